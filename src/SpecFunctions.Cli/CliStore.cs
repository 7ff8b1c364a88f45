using System.CommandLine;
using Microsoft.Extensions.Configuration;
using SpecFunctions.Core.Storage;
using SpecFunctions.Storage;

namespace SpecFunctions.Cli;

/// <summary>The <c>--store DIR | --blob-connection CS</c> pair every command that reads or writes runs shares.</summary>
internal sealed class CliStore
{
    public const string DefaultFolder = ".specfn/store";

    public Option<string?> Folder { get; } = new("--store") { Description = $"Local store folder (default {DefaultFolder})" };

    public Option<string?> BlobConnection { get; } = new("--blob-connection") { Description = "Azure Blob Storage connection string (Azurite: UseDevelopmentStorage=true)" };

    public Option<string> Container { get; } = new("--container") { Description = "Blob container", DefaultValueFactory = _ => TraceStoreLayout.DefaultContainerName };

    public void AddTo(Command command)
    {
        command.Options.Add(Folder);
        command.Options.Add(BlobConnection);
        command.Options.Add(Container);
        command.Validators.Add(r =>
        {
            if (r.GetResult(Folder) is not null && r.GetResult(BlobConnection) is not null)
            {
                r.AddError("--store and --blob-connection are mutually exclusive");
            }
        });
    }

    /// <summary>Opens the store the options name; a blob store says on stderr when storage is slow to answer.</summary>
    /// <exception cref="CliException">The connection string is malformed (exit code 2).</exception>
    public ITraceStore Open(ParseResult parse, TextWriter? notices = null)
    {
        var connection = parse.GetValue(BlobConnection);
        if (!string.IsNullOrWhiteSpace(connection))
        {
            var options = BlobOptions(connection, parse.GetValue(Container) ?? TraceStoreLayout.DefaultContainerName);
            var bound = BlobObjectStore.MaxRequestTime(options);
            string? location = null;
            TraceStore store;
            try
            {
                store = BlobObjectStore.CreateTraceStore(options, onUnresponsive: () => (notices ?? Console.Error).WriteLine(
                    $"specfn: blob storage at {location} is not answering; retrying, giving up after about {bound.TotalSeconds:F0} s " +
                    $"({SectionPrefix}MaxRetries, {SectionPrefix}NetworkTimeout set the bound)"));
            }
            catch (TraceStoreException ex) when (ex.InnerException is FormatException)
            {
                throw new CliException($"--blob-connection: {ex.Message}", ExitCodes.Usage, ex);
            }

            location = store.Location;
            return store;
        }

        return new TraceStore(new LocalFolderObjectStore(Path.GetFullPath(parse.GetValue(Folder) ?? DefaultFolder)));
    }

    private const string SectionPrefix = BlobTraceStoreOptions.SectionName + "__";

    /// <summary>
    /// The CLI's blob settings: shorter retries than the Functions app's defaults (a person is waiting), overridable by
    /// the same keys as environment variables (<c>TraceStore__MaxRetries</c>, <c>TraceStore__RetryDelay</c>,
    /// <c>TraceStore__MaxRetryDelay</c>, <c>TraceStore__NetworkTimeout</c>).
    /// </summary>
    internal static BlobTraceStoreOptions BlobOptions(string connectionString, string container)
    {
        var options = new BlobTraceStoreOptions
        {
            MaxRetries = 3,
            RetryDelay = TimeSpan.FromSeconds(0.5),
            MaxRetryDelay = TimeSpan.FromSeconds(4),
            NetworkTimeout = TimeSpan.FromSeconds(10),
        };
        var section = new ConfigurationBuilder().AddEnvironmentVariables().Build().GetSection(BlobTraceStoreOptions.SectionName);
        try
        {
            options.MaxRetries = section.GetValue(nameof(options.MaxRetries), options.MaxRetries);
            options.RetryDelay = section.GetValue(nameof(options.RetryDelay), options.RetryDelay);
            options.MaxRetryDelay = section.GetValue(nameof(options.MaxRetryDelay), options.MaxRetryDelay);
            options.NetworkTimeout = section.GetValue(nameof(options.NetworkTimeout), options.NetworkTimeout);
        }
        catch (InvalidOperationException ex)
        {
            throw new CliException($"{SectionPrefix}…: {ex.Message}", ExitCodes.Usage, ex);
        }

        if (options.MaxRetries is < 0 or > 20 || options.RetryDelay < TimeSpan.Zero || options.MaxRetryDelay < TimeSpan.Zero || options.NetworkTimeout <= TimeSpan.Zero)
        {
            throw new CliException($"{SectionPrefix}MaxRetries must be in 0..20 and the delays and NetworkTimeout positive time spans (hh:mm:ss)", ExitCodes.Usage);
        }

        options.ConnectionString = connectionString;
        options.ContainerName = container;
        return options;
    }
}
