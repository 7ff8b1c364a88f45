using Azure.Core;
using Azure.Storage.Blobs;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Options;
using SpecFunctions.Core.Storage;

namespace SpecFunctions.Storage;

public static class StorageServiceCollectionExtensions
{
    /// <summary>
    /// Registers the blob trace store: <see cref="BlobTraceStoreOptions"/> bound from the <c>TraceStore</c> configuration
    /// section (validated at start-up), one <see cref="BlobContainerClient"/> and one <see cref="ITraceStore"/>, all
    /// singletons. Set <c>TraceStore:ConnectionString</c> (Azurite: <c>UseDevelopmentStorage=true</c>) or
    /// <c>TraceStore:ServiceUri</c> (managed identity through <c>DefaultAzureCredential</c>, or <paramref name="credential"/>).
    /// </summary>
    public static IServiceCollection AddBlobTraceStore(this IServiceCollection services, TokenCredential? credential = null)
    {
        ArgumentNullException.ThrowIfNull(services);
        services.AddOptions<BlobTraceStoreOptions>()
            .BindConfiguration(BlobTraceStoreOptions.SectionName)
            .ValidateDataAnnotations()
            .Validate(
                o => !string.IsNullOrWhiteSpace(o.ConnectionString) || o.ServiceUri is not null,
                $"{BlobTraceStoreOptions.SectionName}:ConnectionString or {BlobTraceStoreOptions.SectionName}:ServiceUri must be set")
            .ValidateOnStart();
        services.AddSingleton(sp => BlobObjectStore.CreateContainerClient(sp.GetRequiredService<IOptions<BlobTraceStoreOptions>>().Value, credential));
        services.AddSingleton<ITraceStore>(sp => new TraceStore(new BlobObjectStore(
            sp.GetRequiredService<BlobContainerClient>(),
            sp.GetRequiredService<IOptions<BlobTraceStoreOptions>>().Value.BlockSizeBytes)));
        return services;
    }
}
