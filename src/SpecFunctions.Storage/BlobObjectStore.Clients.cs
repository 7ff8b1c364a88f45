using Azure.Core;
using Azure.Core.Pipeline;
using Azure.Identity;
using Azure.Storage.Blobs;
using SpecFunctions.Core.Storage;

namespace SpecFunctions.Storage;

/// <summary>The SDK client options and the factories of blob-backed stores.</summary>
public sealed partial class BlobObjectStore
{
    /// <summary>How long an attempt may go unanswered before <c>onUnresponsive</c> is told. 3 s.</summary>
    public static TimeSpan UnresponsiveNoticeAfter { get; } = TimeSpan.FromSeconds(3);

    /// <summary>The SDK options used by the factories: exponential retries as configured.</summary>
    /// <param name="options">Retry counts, delays and the per-attempt network timeout.</param>
    /// <param name="onUnresponsive">
    /// Called once per client, the first time a request is retried or an attempt has waited
    /// <see cref="UnresponsiveNoticeAfter"/> without an answer, so that a caller can say it is still trying; the SDK's own
    /// retry policy does the retrying.
    /// </param>
    public static BlobClientOptions CreateClientOptions(BlobTraceStoreOptions options, Action? onUnresponsive = null)
    {
        ArgumentNullException.ThrowIfNull(options);
        var clientOptions = new BlobClientOptions();
        clientOptions.Retry.Mode = RetryMode.Exponential;
        clientOptions.Retry.MaxRetries = options.MaxRetries;
        clientOptions.Retry.Delay = options.RetryDelay;
        clientOptions.Retry.MaxDelay = options.MaxRetryDelay;
        clientOptions.Retry.NetworkTimeout = options.NetworkTimeout;
        if (onUnresponsive is not null)
        {
            clientOptions.AddPolicy(new UnresponsiveNoticePolicy(onUnresponsive, UnresponsiveNoticeAfter), HttpPipelinePosition.PerRetry);
        }

        return clientOptions;
    }

    /// <summary>
    /// The longest a request can take before it fails for good with these options: every attempt timing out, with the
    /// longest delay between attempts.
    /// </summary>
    public static TimeSpan MaxRequestTime(BlobTraceStoreOptions options)
    {
        ArgumentNullException.ThrowIfNull(options);
        var delays = TimeSpan.Zero;
        for (var retry = 0; retry < options.MaxRetries; retry++)
        {
            var exponential = options.RetryDelay * Math.Pow(2, retry);
            delays += exponential < options.MaxRetryDelay ? exponential : options.MaxRetryDelay;
        }

        return (options.NetworkTimeout * (options.MaxRetries + 1)) + delays;
    }

    /// <summary>
    /// A container client from <see cref="BlobTraceStoreOptions.ConnectionString"/>, else from
    /// <see cref="BlobTraceStoreOptions.ServiceUri"/> with <paramref name="credential"/> (default
    /// <see cref="DefaultAzureCredential"/>: managed identity in Azure, developer sign-in locally).
    /// </summary>
    public static BlobContainerClient CreateContainerClient(BlobTraceStoreOptions options, TokenCredential? credential = null, BlobClientOptions? clientOptions = null)
    {
        ArgumentNullException.ThrowIfNull(options);
        clientOptions ??= CreateClientOptions(options);
        BlobServiceClient service;
        if (!string.IsNullOrWhiteSpace(options.ConnectionString))
        {
            try
            {
                service = new BlobServiceClient(options.ConnectionString, clientOptions);
            }
            catch (FormatException ex)
            {
                // The message must not echo the connection string: it may hold an account key.
                throw new TraceStoreException("the blob connection string is malformed (expected UseDevelopmentStorage=true or key=value pairs such as AccountName, AccountKey, BlobEndpoint)", ex);
            }
        }
        else if (options.ServiceUri is not null)
        {
            service = new BlobServiceClient(options.ServiceUri, credential ?? new DefaultAzureCredential(), clientOptions);
        }
        else
        {
            throw new TraceStoreException("blob trace store needs a connection string or a service URI");
        }

        return service.GetBlobContainerClient(options.ContainerName);
    }

    /// <summary>A blob-backed <see cref="TraceStore"/> from options.</summary>
    /// <param name="options">The store's settings.</param>
    /// <param name="credential">Used with <see cref="BlobTraceStoreOptions.ServiceUri"/>; default <see cref="DefaultAzureCredential"/>.</param>
    /// <param name="storeOptions">Trace store tuning.</param>
    /// <param name="onUnresponsive">See <see cref="CreateClientOptions"/>.</param>
    public static TraceStore CreateTraceStore(
        BlobTraceStoreOptions options, TokenCredential? credential = null, TraceStoreOptions? storeOptions = null, Action? onUnresponsive = null)
    {
        ArgumentNullException.ThrowIfNull(options);
        return new(new BlobObjectStore(CreateContainerClient(options, credential, CreateClientOptions(options, onUnresponsive)), options.BlockSizeBytes), storeOptions);
    }

    /// <summary>A blob-backed <see cref="TraceStore"/> from a connection string (e.g. <c>UseDevelopmentStorage=true</c>).</summary>
    public static TraceStore CreateTraceStore(string connectionString, string containerName = TraceStoreLayout.DefaultContainerName) =>
        CreateTraceStore(new BlobTraceStoreOptions { ConnectionString = connectionString, ContainerName = containerName });
}
