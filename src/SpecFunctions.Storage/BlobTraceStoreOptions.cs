using System.ComponentModel.DataAnnotations;
using SpecFunctions.Core.Storage;

namespace SpecFunctions.Storage;

/// <summary>Settings of the Azure Blob Storage trace store (configuration section <see cref="SectionName"/>).</summary>
public sealed class BlobTraceStoreOptions
{
    public const string SectionName = "TraceStore";

    /// <summary>
    /// Connection string: <c>UseDevelopmentStorage=true</c> or an explicit Azurite/account string. When null,
    /// <see cref="ServiceUri"/> with <c>DefaultAzureCredential</c> (managed identity in Azure) is used.
    /// </summary>
    public string? ConnectionString { get; set; }

    /// <summary>Blob service endpoint, e.g. <c>https://account.blob.core.windows.net</c>; used when no connection string is set.</summary>
    public Uri? ServiceUri { get; set; }

    /// <summary>Container name. Default <c>speculative-evals</c>.</summary>
    [Required]
    [RegularExpression("^[a-z0-9](?!.*--)[a-z0-9-]{1,61}[a-z0-9]$", ErrorMessage = "container names are 3-63 lower-case letters, digits and single hyphens")]
    public string ContainerName { get; set; } = TraceStoreLayout.DefaultContainerName;

    /// <summary>Retries of a failed request (408, 429, 500, 502, 503, 504, network errors) before it fails. Default 5.</summary>
    [Range(0, 20)]
    public int MaxRetries { get; set; } = 5;

    /// <summary>First retry delay, doubled each retry with jitter (exponential mode). Default 0.8 s.</summary>
    public TimeSpan RetryDelay { get; set; } = TimeSpan.FromSeconds(0.8);

    /// <summary>Longest delay between retries. Default 30 s.</summary>
    public TimeSpan MaxRetryDelay { get; set; } = TimeSpan.FromSeconds(30);

    /// <summary>Timeout of one network attempt. Default 100 s.</summary>
    public TimeSpan NetworkTimeout { get; set; } = TimeSpan.FromSeconds(100);

    /// <summary>Size of a staged block of a streamed upload, bytes; bounds the memory of one trace writer. Default 4 MiB.</summary>
    [Range(64 * 1024, 100 * 1024 * 1024)]
    public int BlockSizeBytes { get; set; } = 4 * 1024 * 1024;
}
