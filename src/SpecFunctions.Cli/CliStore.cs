using System.CommandLine;
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

    public ITraceStore Open(ParseResult parse)
    {
        var connection = parse.GetValue(BlobConnection);
        if (!string.IsNullOrWhiteSpace(connection))
        {
            return BlobObjectStore.CreateTraceStore(connection, parse.GetValue(Container) ?? TraceStoreLayout.DefaultContainerName);
        }

        return new TraceStore(new LocalFolderObjectStore(Path.GetFullPath(parse.GetValue(Folder) ?? DefaultFolder)));
    }
}
