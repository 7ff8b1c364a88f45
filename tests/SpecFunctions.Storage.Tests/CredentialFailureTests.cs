using Azure.Core;
using Azure.Identity;
using Azure.Storage.Blobs;
using SpecFunctions.Core.Storage;

namespace SpecFunctions.Storage.Tests;

/// <summary>
/// A managed identity that cannot get a token fails every kind of call with the same clear error, not an SDK exception.
/// The token is requested before anything is sent, so no storage endpoint is needed.
/// </summary>
public sealed class CredentialFailureTests
{
    public static TheoryData<string> Operations => ["read", "read versioned", "write conditional", "delete", "list", "staged write"];

    [Theory]
    [MemberData(nameof(Operations))]
    public async Task EveryOperation_NoToken_ThrowsTraceStoreExceptionNamingTheCredential(string operation)
    {
        var options = new BlobClientOptions();
        options.Retry.MaxRetries = 0;
        var credential = new FailingCredential();
        var store = new BlobObjectStore(new BlobContainerClient(new Uri("https://127.0.0.1:9/traces"), credential, options));

        var error = await Assert.ThrowsAsync<TraceStoreException>(() => operation switch
        {
            "read" => store.OpenReadAsync("runs/a/manifest.json"),
            "read versioned" => store.ReadVersionedAsync("runs/a/manifest.json"),
            "write conditional" => store.WriteConditionalAsync("runs/a/manifest.json", new byte[] { 1 }, ifMatch: null),
            "delete" => store.DeleteAsync("runs/a/manifest.json"),
            "list" => ListAll(store),
            "staged write" => StagedWrite(store),
            _ => throw new ArgumentOutOfRangeException(nameof(operation)),
        });

        Assert.StartsWith("could not get a token for https://127.0.0.1:9/traces: managed identity unavailable", error.Message);
        Assert.IsType<AuthenticationFailedException>(error.InnerException);
        Assert.True(credential.Calls >= 1);
    }

    private static async Task ListAll(BlobObjectStore store)
    {
        await foreach (var _ in store.ListAsync("runs/"))
        {
        }
    }

    private static async Task StagedWrite(BlobObjectStore store)
    {
        await using var staged = await store.OpenStagedWriteAsync("runs/a/tasks/en/trace.jsonl.gz");
        await staged.Stream.WriteAsync(new byte[] { 1, 2, 3 });
        await staged.CommitAsync();
    }

    private sealed class FailingCredential : TokenCredential
    {
        public int Calls { get; private set; }

        public override AccessToken GetToken(TokenRequestContext requestContext, CancellationToken cancellationToken) =>
            throw Fail();

        public override ValueTask<AccessToken> GetTokenAsync(TokenRequestContext requestContext, CancellationToken cancellationToken) =>
            throw Fail();

        private AuthenticationFailedException Fail()
        {
            Calls++;
            return new AuthenticationFailedException("managed identity unavailable\nsecond line of detail");
        }
    }
}
