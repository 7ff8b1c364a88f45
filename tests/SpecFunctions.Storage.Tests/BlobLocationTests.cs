using System.Diagnostics;
using System.Net;
using SpecFunctions.Core.Storage;

namespace SpecFunctions.Storage.Tests;

/// <summary>What a blob store says about itself: no SAS token in its location, a notice when storage is slow, a bound.</summary>
[Collection(AzuriteCollection.Name)]
public sealed class BlobLocationTests(AzuriteFixture azurite)
{
    [Fact]
    public async Task Location_SasConnectionString_HasNoQueryAndTheStoreWorks()
    {
        var connection = azurite.SasConnectionString();
        Assert.Contains("sig=", connection, StringComparison.Ordinal);
        var store = BlobObjectStore.CreateTraceStore(connection, "sas-location");

        await store.CreateRunAsync(TestRuns.NewManifest("sas-run"));
        var missing = await Assert.ThrowsAsync<RunNotFoundException>(() => store.UpdateManifestAsync("no-such-run", m => m));

        Assert.Equal($"http://127.0.0.1:{azurite.Port}/devstoreaccount1/sas-location", store.Location);
        Assert.NotNull(await store.GetManifestAsync("sas-run"));
        Assert.DoesNotContain("sig=", missing.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Request_RefusedConnection_NotifiesOnceThenFailsWithinTheBound()
    {
        // A port nothing listens on: the fixture's free-port finder, with the listener already closed.
        var port = AzuriteFixture.FreePort();

        var options = new BlobTraceStoreOptions
        {
            ConnectionString = azurite.ConnectionString.Replace($":{azurite.Port}/", $":{port}/", StringComparison.Ordinal),
            MaxRetries = 2,
            RetryDelay = TimeSpan.FromMilliseconds(100),
            MaxRetryDelay = TimeSpan.FromMilliseconds(200),
            NetworkTimeout = TimeSpan.FromSeconds(2),
        };
        var notices = 0;
        var store = BlobObjectStore.CreateTraceStore(options, onUnresponsive: () => Interlocked.Increment(ref notices));
        var clock = Stopwatch.StartNew();

        var error = await Assert.ThrowsAsync<TraceStoreException>(() => store.GetManifestAsync("run-1"));

        Assert.Contains("after 3 attempts", error.Message, StringComparison.Ordinal);
        Assert.Equal(1, notices);
        Assert.True(clock.Elapsed < BlobObjectStore.MaxRequestTime(options), $"{clock.Elapsed} > {BlobObjectStore.MaxRequestTime(options)}");
    }

    [Theory]
    // 4 attempts × 10 s + delays 0.5 + 1 + 2 s (the CLI's defaults)
    [InlineData(3, 0.5, 4, 10, 43.5)]
    // 6 attempts × 100 s + delays 0.8 + 1.6 + 3 + 3 + 3 s (capped at 3 s)
    [InlineData(5, 0.8, 3, 100, 611.4)]
    [InlineData(0, 1, 1, 5, 5)]
    public void MaxRequestTime_AttemptsTimesTimeoutPlusCappedDelays(int retries, double delay, double maxDelay, double timeout, double expectedSeconds)
    {
        var options = new BlobTraceStoreOptions
        {
            MaxRetries = retries,
            RetryDelay = TimeSpan.FromSeconds(delay),
            MaxRetryDelay = TimeSpan.FromSeconds(maxDelay),
            NetworkTimeout = TimeSpan.FromSeconds(timeout),
        };

        Assert.Equal(expectedSeconds, BlobObjectStore.MaxRequestTime(options).TotalSeconds, 6);
    }
}
