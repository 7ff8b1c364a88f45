using System.Net;
using Azure;
using Azure.Storage.Blobs;
using Azure.Storage.Blobs.Models;
using Moq;
using SpecFunctions.Core.Storage;
using SpecFunctions.Core.Tracing;

namespace SpecFunctions.Storage.Tests;

/// <summary>Transient and permanent failures: real Azurite behind an HTTP handler that injects errors, and Moq'd clients.</summary>
[Collection(AzuriteCollection.Name)]
public sealed class BlobFailureTests(AzuriteFixture azurite)
{
    [Theory]
    [InlineData(HttpStatusCode.ServiceUnavailable)]
    [InlineData(HttpStatusCode.InternalServerError)]
    public async Task ManifestWrite_TransientErrorsThenSuccess_IsRetriedBySdkPipeline(HttpStatusCode status)
    {
        var faults = new FaultInjectingHandler();
        var store = new TraceStore(new BlobObjectStore(azurite.NewContainer(AzuriteFixture.FastStoreOptions(), faults)));

        faults.Fail(request => request.Method == HttpMethod.Put && request.RequestUri!.AbsolutePath.EndsWith("/manifest.json", StringComparison.Ordinal), status, times: 2);
        var created = await store.CreateRunAsync(TestRuns.NewManifest("retry"));

        Assert.Equal(2, faults.Injected);
        Assert.Equal(3, faults.Matching); // two failures, then the successful attempt
        var stored = await store.GetManifestAsync("retry");
        Assert.Equal(created.Tasks.Keys, stored!.Tasks.Keys);
    }

    [Fact]
    public async Task TraceUpload_TransientErrorOnBlockStaging_IsRetriedAndTraceIsComplete()
    {
        var faults = new FaultInjectingHandler();
        var container = azurite.NewContainer(AzuriteFixture.FastStoreOptions(), faults);
        // Small blocks so that the trace spans several staged blocks.
        var store = new TraceStore(new BlobObjectStore(container, blockSizeBytes: 4096));
        await store.CreateRunAsync(TestRuns.NewManifest("retry-blocks"));

        faults.Fail(request => request.RequestUri!.Query.Contains("comp=block&", StringComparison.Ordinal), HttpStatusCode.ServiceUnavailable, times: 2);
        var sink = new ListTraceSink();
        TestRuns.Produce("math-en", sink);
        await using (var writer = await store.OpenTraceWriterAsync("retry-blocks", "math-en", TestRuns.KeyOf("math-en"), 4))
        {
            sink.Records.ToList().ForEach(writer.Write);
            await writer.CommitAsync();
        }

        Assert.Equal(2, faults.Injected);
        var read = await TestRuns.ReadAllAsync(store, "retry-blocks", "math-en");
        Assert.Equal(sink.Records.Select(TraceJson.Serialize), read.Select(TraceJson.Serialize));
    }

    [Fact]
    public async Task AnyCall_Permanent403_FailsOnceWithClearMessage()
    {
        var faults = new FaultInjectingHandler();
        var store = new TraceStore(new BlobObjectStore(azurite.NewContainer(AzuriteFixture.FastStoreOptions(), faults)));
        faults.Fail(_ => true, HttpStatusCode.Forbidden, times: int.MaxValue, errorCode: "AuthorizationPermissionMismatch");

        var error = await Assert.ThrowsAsync<TraceStoreException>(() => store.CreateRunAsync(TestRuns.NewManifest("denied")));

        Assert.True(error.Message.Contains("403 AuthorizationPermissionMismatch", StringComparison.Ordinal), error.Message);
        Assert.Equal(1, faults.Matching); // 403 is not transient: no retry
        Assert.Contains("denied", error.Message, StringComparison.Ordinal);
        Assert.Contains("403 AuthorizationPermissionMismatch", error.Message, StringComparison.Ordinal);
        Assert.Contains("Storage Blob Data Contributor", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task GetManifest_NothingListening_FailsAfterRetriesWithOneClearError()
    {
        // A port nothing listens on: the fixture's free-port finder, with the listener already closed.
        var port = AzuriteFixture.FreePort();

        var options = AzuriteFixture.FastStoreOptions();
        options.ConnectionString = azurite.ConnectionString.Replace($":{azurite.Port}/", $":{port}/", StringComparison.Ordinal);
        var store = BlobObjectStore.CreateTraceStore(options);

        var error = await Assert.ThrowsAsync<TraceStoreException>(() => store.GetManifestAsync("run-1"));

        Assert.StartsWith($"blob storage could not be reached for read of 'runs/run-1/manifest.json' in http://127.0.0.1:{port}/", error.Message, StringComparison.Ordinal);
        Assert.Contains($"after {options.MaxRetries + 1} attempts: Connection refused", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task GetManifest_MockedBlob403_ThrowsTraceStoreExceptionNamingTheCause()
    {
        var (container, blob) = MockContainer();
        blob.Setup(b => b.DownloadContentAsync(It.IsAny<CancellationToken>()))
            .ThrowsAsync(new RequestFailedException(403, "This request is not authorized to perform this operation.", "AuthorizationFailure", null));
        var store = new TraceStore(new BlobObjectStore(container.Object));

        var error = await Assert.ThrowsAsync<TraceStoreException>(() => store.GetManifestAsync("run-1"));

        Assert.StartsWith("blob storage denied read of 'runs/run-1/manifest.json'", error.Message, StringComparison.Ordinal);
        Assert.Contains("HTTP 403 AuthorizationFailure", error.Message, StringComparison.Ordinal);
        Assert.IsType<RequestFailedException>(error.InnerException);
    }

    [Fact]
    public async Task GetManifest_MockedBlob503AfterSdkRetries_SurfacesStatusAndCode()
    {
        var (container, blob) = MockContainer();
        blob.Setup(b => b.DownloadContentAsync(It.IsAny<CancellationToken>()))
            .ThrowsAsync(new RequestFailedException(503, "The server is busy.", "ServerBusy", null));
        var store = new TraceStore(new BlobObjectStore(container.Object));

        var error = await Assert.ThrowsAsync<TraceStoreException>(() => store.GetManifestAsync("run-1"));

        Assert.Equal("blob storage read of 'runs/run-1/manifest.json' in http://127.0.0.1/acct/c failed: HTTP 503 ServerBusy", error.Message);
    }

    [Fact]
    public async Task CreateRun_MockedContainerAlreadyExistsThenConditionNotMet_ReturnsExistingRun()
    {
        var (container, blob) = MockContainer();
        container.Setup(c => c.CreateAsync(It.IsAny<PublicAccessType>(), It.IsAny<IDictionary<string, string>>(), It.IsAny<BlobContainerEncryptionScopeOptions>(), It.IsAny<CancellationToken>()))
            .ThrowsAsync(new RequestFailedException(409, "The specified container already exists.", "ContainerAlreadyExists", null));
        blob.Setup(b => b.UploadAsync(It.IsAny<BinaryData>(), It.IsAny<BlobUploadOptions>(), It.IsAny<CancellationToken>()))
            .ThrowsAsync(new RequestFailedException(412, "The condition specified using HTTP conditional header(s) is not met.", "ConditionNotMet", null));
        var existing = TestRuns.NewManifest("run-1", ["existing-task"]);
        var json = System.Text.Json.JsonSerializer.SerializeToUtf8Bytes(existing, RunManifest.JsonOptions);
        blob.Setup(b => b.DownloadContentAsync(It.IsAny<CancellationToken>()))
            .ReturnsAsync(Response.FromValue(
                BlobsModelFactory.BlobDownloadResult(new BinaryData(json), BlobsModelFactory.BlobDownloadDetails(eTag: new ETag("\"0x1\""))),
                Mock.Of<Response>()));
        var store = new TraceStore(new BlobObjectStore(container.Object));

        var result = await store.CreateRunAsync(TestRuns.NewManifest("run-1", ["new-task"]));

        Assert.Equal(["existing-task"], result.Tasks.Keys);
        container.Verify(c => c.CreateAsync(It.IsAny<PublicAccessType>(), It.IsAny<IDictionary<string, string>>(), It.IsAny<BlobContainerEncryptionScopeOptions>(), It.IsAny<CancellationToken>()), Times.Once);
    }

    [Fact]
    public async Task WriteConditional_SixteenConcurrentWrites_CreateContainerExactlyOnce()
    {
        var (container, blob) = MockContainer();
        container.Setup(c => c.CreateAsync(It.IsAny<PublicAccessType>(), It.IsAny<IDictionary<string, string>>(), It.IsAny<BlobContainerEncryptionScopeOptions>(), It.IsAny<CancellationToken>()))
            .Returns(async () =>
            {
                await Task.Delay(50); // keep the creation in flight while the other writers arrive
                return Response.FromValue(BlobsModelFactory.BlobContainerInfo(new ETag("\"c\""), DateTimeOffset.UtcNow), Mock.Of<Response>());
            });
        blob.Setup(b => b.UploadAsync(It.IsAny<BinaryData>(), It.IsAny<BlobUploadOptions>(), It.IsAny<CancellationToken>()))
            .ReturnsAsync(Response.FromValue(
                BlobsModelFactory.BlobContentInfo(new ETag("\"v1\""), DateTimeOffset.UtcNow, null, null, null, null, 1),
                Mock.Of<Response>()));
        var objects = new BlobObjectStore(container.Object);

        var versions = await Task.WhenAll(Enumerable.Range(0, 16).Select(i =>
            Task.Run(() => objects.WriteConditionalAsync($"runs/r{i}/manifest.json", new byte[] { 1 }, ifMatch: null))));

        Assert.All(versions, v => Assert.Equal("\"v1\"", v));
        container.Verify(c => c.CreateAsync(It.IsAny<PublicAccessType>(), It.IsAny<IDictionary<string, string>>(), It.IsAny<BlobContainerEncryptionScopeOptions>(), It.IsAny<CancellationToken>()), Times.Once);
        blob.Verify(b => b.UploadAsync(It.IsAny<BinaryData>(), It.Is<BlobUploadOptions>(o => o.Conditions.IfNoneMatch == ETag.All), It.IsAny<CancellationToken>()), Times.Exactly(16));
    }

    private static (Mock<BlobContainerClient> Container, Mock<BlobClient> Blob) MockContainer()
    {
        var container = new Mock<BlobContainerClient>(MockBehavior.Strict);
        var blob = new Mock<BlobClient>(MockBehavior.Strict);
        container.SetupGet(c => c.Uri).Returns(new Uri("http://127.0.0.1/acct/c"));
        container.Setup(c => c.GetBlobClient(It.IsAny<string>())).Returns(blob.Object);
        return (container, blob);
    }
}

/// <summary>Answers matching requests with an error status (as a storage front end would) and passes the rest on.</summary>
internal sealed class FaultInjectingHandler() : DelegatingHandler(new SocketsHttpHandler())
{
    private Func<HttpRequestMessage, bool> _match = _ => false;
    private HttpStatusCode _status;
    private string? _errorCode;
    private int _remaining;
    private int _injected;
    private int _matching;

    public int Injected => _injected;

    public int Matching => _matching;

    public void Fail(Func<HttpRequestMessage, bool> match, HttpStatusCode status, int times, string? errorCode = null)
    {
        _match = match;
        _status = status;
        _remaining = times;
        _errorCode = errorCode;
        _injected = 0;
        _matching = 0;
    }

    protected override async Task<HttpResponseMessage> SendAsync(HttpRequestMessage request, CancellationToken cancellationToken)
    {
        if (_match(request))
        {
            Interlocked.Increment(ref _matching);
            if (Interlocked.Decrement(ref _remaining) >= 0)
            {
                Interlocked.Increment(ref _injected);
                var code = _errorCode ?? (_status == HttpStatusCode.ServiceUnavailable ? "ServerBusy" : "InternalError");
                var response = new HttpResponseMessage(_status)
                {
                    RequestMessage = request,
                    Content = new StringContent($"<?xml version=\"1.0\" encoding=\"utf-8\"?><Error><Code>{code}</Code><Message>injected</Message></Error>", System.Text.Encoding.UTF8, "application/xml"),
                };
                response.Headers.Add("x-ms-error-code", code);
                response.Headers.Add("x-ms-request-id", Guid.NewGuid().ToString());
                return response;
            }
        }

        return await base.SendAsync(request, cancellationToken);
    }
}
