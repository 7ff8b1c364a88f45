using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Options;
using SpecFunctions.Core.Storage;

namespace SpecFunctions.Storage.Tests;

[Collection(AzuriteCollection.Name)]
public sealed class StorageServiceCollectionExtensionsTests(AzuriteFixture azurite)
{
    [Fact]
    public async Task AddBlobTraceStore_ConnectionStringInConfiguration_ResolvesWorkingSingletonStore()
    {
        var container = "di" + Guid.NewGuid().ToString("N")[..12];
        using var provider = Build(new Dictionary<string, string?>
        {
            ["TraceStore:ConnectionString"] = azurite.ConnectionString,
            ["TraceStore:ContainerName"] = container,
            ["TraceStore:MaxRetries"] = "2",
        });

        var store = provider.GetRequiredService<ITraceStore>();
        await store.CreateRunAsync(TestRuns.NewManifest("di-run"));

        Assert.Same(store, provider.GetRequiredService<ITraceStore>());
        Assert.EndsWith($"/{container}", store.Location, StringComparison.Ordinal);
        Assert.Equal(2, provider.GetRequiredService<IOptions<BlobTraceStoreOptions>>().Value.MaxRetries);
        Assert.NotNull(await store.GetManifestAsync("di-run"));
    }

    [Theory]
    [InlineData(null, "Bad_Name", "container names are 3-63 lower-case letters")]
    [InlineData(null, null, "TraceStore:ConnectionString or TraceStore:ServiceUri must be set")]
    public void AddBlobTraceStore_InvalidConfiguration_FailsWithNamedCause(string? connection, string? container, string expected)
    {
        var settings = new Dictionary<string, string?> { ["TraceStore:ServiceUri"] = container is null ? null : "https://acct.blob.core.windows.net" };
        if (connection is not null)
        {
            settings["TraceStore:ConnectionString"] = connection;
        }

        if (container is not null)
        {
            settings["TraceStore:ContainerName"] = container;
        }

        using var provider = Build(settings);

        var error = Assert.Throws<OptionsValidationException>(() => provider.GetRequiredService<ITraceStore>());
        Assert.Contains(expected, error.Message, StringComparison.Ordinal);
    }

    private static ServiceProvider Build(Dictionary<string, string?> settings)
    {
        var services = new ServiceCollection();
        services.AddSingleton<IConfiguration>(new ConfigurationBuilder().AddInMemoryCollection(settings).Build());
        services.AddBlobTraceStore();
        return services.BuildServiceProvider();
    }
}
