using Azure.Storage.Blobs;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.Options;
using SpecFunctions.Core.Evaluation;
using SpecFunctions.Core.Storage;
using SpecFunctions.Storage;

namespace SpecFunctions.Functions.Hosting;

/// <summary>Where runs, traces, reports and referenced suites are kept: the app's blob container.</summary>
public static class StorageRegistration
{
    /// <summary>
    /// The trace store on Azure Blob Storage (section <see cref="BlobTraceStoreOptions.SectionName"/>), plus the suite
    /// registry. Without <c>TraceStore:ConnectionString</c> and <c>TraceStore:ServiceUri</c>, a plain
    /// <c>AzureWebJobsStorage</c> connection string is used (Azurite locally).
    /// </summary>
    public static IServiceCollection AddSpecFunctionsStorage(this IServiceCollection services, IConfiguration configuration)
    {
        services.AddBlobTraceStore();
        // Runs before AddBlobTraceStore's validation, so these fallbacks satisfy its "connection string or URI" rule.
        services.AddOptions<BlobTraceStoreOptions>().PostConfigure(o =>
        {
            // The names infra/modules/functionApp.bicep sets (managed identity, no connection string).
            if (o.ServiceUri is null && Uri.TryCreate(configuration["SPECFN_TRACE_STORAGE:serviceUri"], UriKind.Absolute, out var serviceUri))
            {
                o.ServiceUri = serviceUri;
            }

            if (configuration["SPECFN_TRACE_CONTAINER"] is { Length: > 0 } container && configuration[$"{BlobTraceStoreOptions.SectionName}:ContainerName"] is null)
            {
                o.ContainerName = container;
            }

            var shared = configuration["AzureWebJobsStorage"];
            if (string.IsNullOrWhiteSpace(o.ConnectionString) && o.ServiceUri is null && !string.IsNullOrWhiteSpace(shared))
            {
                o.ConnectionString = shared;
            }
        });
        services.TryAddSingleton<IObjectStore>(sp => new BlobObjectStore(
            sp.GetRequiredService<BlobContainerClient>(), sp.GetRequiredService<IOptions<BlobTraceStoreOptions>>().Value.BlockSizeBytes));
        services.TryAddSingleton(sp => new SuiteRegistry(sp.GetRequiredService<IObjectStore>()));
        return services;
    }
}
