using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using Azure.Core.Pipeline;
using Azure.Storage.Blobs;
using SpecFunctions.Storage;

namespace SpecFunctions.Storage.Tests;

/// <summary>
/// Starts the repository's pinned Azurite (the blob service, and the queue service when asked; in memory, loopback, free ports) once for the test
/// collection and kills it by PID at the end. Fails, never skips, when Azurite is not installed.
/// </summary>
public sealed class AzuriteFixture : IAsyncLifetime
{
    // Azurite's well-known development account (public, documented; not a secret).
    internal const string AccountName = "devstoreaccount1";
    internal const string AccountKey = "Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw==";

    private Process? _process;
    private Process? _queueProcess;
    private Process? _tableProcess;
    private readonly List<string> _output = [];
    private int _services;

    /// <summary>Also start Azurite's queue service (<see cref="QueuePort"/>, in <see cref="ConnectionString"/>).</summary>
    /// <remarks>An init property, not a constructor argument: xunit builds collection fixtures through one parameterless constructor.</remarks>
    public bool WithQueue { get; init; }

    public int Port { get; private set; }

    public int? QueuePort { get; private set; }

    /// <summary>Also start Azurite's table service (<see cref="TablePort"/>, in <see cref="ConnectionString"/>): the Functions host's Durable backend needs it.</summary>
    public bool WithTable { get; init; }

    public int? TablePort { get; private set; }

    /// <summary>
    /// A data folder (Azurite's <c>--location</c>) instead of memory: the store outlives a <see cref="StopAsync"/> and
    /// <see cref="RestartAsync"/> (a storage outage), as a real account's data does.
    /// </summary>
    public string? Location { get; init; }

    public string ConnectionString =>
        $"DefaultEndpointsProtocol=http;AccountName={AccountName};AccountKey={AccountKey};BlobEndpoint=http://127.0.0.1:{Port}/{AccountName};"
        + (QueuePort is { } queuePort ? $"QueueEndpoint=http://127.0.0.1:{queuePort}/{AccountName};" : string.Empty)
        + (TablePort is { } tablePort ? $"TableEndpoint=http://127.0.0.1:{tablePort}/{AccountName};" : string.Empty);

    public static string RepositoryRoot { get; } = FindRepositoryRoot();

    public Task InitializeAsync() =>
        StartAsync(FreePort(), WithQueue ? FreePort() : null, WithTable ? FreePort() : null);

    /// <summary>
    /// Stops every service as an outage does: SIGTERM (Azurite closes its listeners and saves its data folder), then
    /// kill -9 of the node processes once they have closed (they survive SIGTERM). The ports stay reserved for <see cref="RestartAsync"/>.
    /// </summary>
    public async Task StopAsync()
    {
        Assert.NotNull(Location);
        foreach (var process in new[] { _process, _queueProcess, _tableProcess })
        {
            if (process is { HasExited: false })
            {
                using var term = Process.Start("kill", ["-TERM", process.Id.ToString(System.Globalization.CultureInfo.InvariantCulture)]);
                await term.WaitForExitAsync();
            }
        }

        var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(15);
        while (DateTime.UtcNow < deadline && Snapshot(100).Count(l => l.Contains("successfully closed", StringComparison.Ordinal)) < _services)
        {
            await Task.Delay(100);
        }

        await DisposeAsync();
    }

    /// <summary>Starts the services again on the same ports and data folder (after <see cref="StopAsync"/>).</summary>
    public async Task RestartAsync()
    {
        lock (_output)
        {
            _output.Clear();
        }

        await StartAsync(Port, QueuePort, TablePort);
    }

    private async Task StartAsync(int port, int? queuePort, int? tablePort)
    {
        Port = port;
        _services = 1;
        _process = Start("azurite-blob", "--blobHost", "127.0.0.1", "--blobPort", Port.ToString(System.Globalization.CultureInfo.InvariantCulture));
        var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(60);
        if (queuePort is { } queue)
        {
            _services++;
            _queueProcess = Start("azurite-queue", "--queueHost", "127.0.0.1", "--queuePort", queue.ToString(System.Globalization.CultureInfo.InvariantCulture));
            await WaitForListenerAsync(_queueProcess, queue, deadline);
            QueuePort = queue;
        }

        if (tablePort is { } table)
        {
            _services++;
            _tableProcess = Start("azurite-table", "--tableHost", "127.0.0.1", "--tablePort", table.ToString(System.Globalization.CultureInfo.InvariantCulture));
            await WaitForListenerAsync(_tableProcess, table, deadline);
            TablePort = table;
        }

        var service = new BlobServiceClient(ConnectionString, FastOptions());
        while (true)
        {
            if (_process.HasExited)
            {
                throw new InvalidOperationException($"Azurite exited with code {_process.ExitCode}: {string.Join(" | ", Snapshot())}");
            }

            try
            {
                await service.GetPropertiesAsync();
                return;
            }
            catch (Exception ex) when (DateTime.UtcNow < deadline && ex is Azure.RequestFailedException or HttpRequestException or IOException or SocketException or AggregateException)
            {
                await Task.Delay(200);
            }
        }
    }

    public Task DisposeAsync()
    {
        foreach (var process in new[] { _process, _queueProcess, _tableProcess })
        {
            if (process is { HasExited: false })
            {
                // Azurite's node process survives SIGTERM (its listeners close but it keeps running): kill -9 by PID.
                process.Kill(entireProcessTree: true);
                process.WaitForExit(10_000);
            }

            process?.Dispose();
        }

        (_process, _queueProcess, _tableProcess) = (null, null, null);

        return Task.CompletedTask;
    }

    private Process Start(string service, params string[] arguments)
    {
        var executable = Path.Combine(RepositoryRoot, "node_modules", ".bin", service);
        if (!File.Exists(executable))
        {
            throw new InvalidOperationException(
                $"Azurite is not installed ({executable} is missing): run `npm ci` in {RepositoryRoot} (package.json pins azurite 3.37.0).");
        }

        var start = new ProcessStartInfo(executable)
        {
            WorkingDirectory = RepositoryRoot,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };

        // skipApiVersionCheck: the Azure SDK speaks newer API versions than Azurite 3.37 knows.
        string[] persistence = Location is { } location ? ["--location", location] : ["--inMemoryPersistence"];
        foreach (var argument in (string[])["--skipApiVersionCheck", .. persistence, .. arguments, "--silent"])
        {
            start.ArgumentList.Add(argument);
        }

        var process = Process.Start(start) ?? throw new InvalidOperationException($"could not start {service}");
        process.OutputDataReceived += (_, e) => Collect(e.Data);
        process.ErrorDataReceived += (_, e) => Collect(e.Data);
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
        return process;
    }

    private async Task WaitForListenerAsync(Process process, int port, DateTime deadline)
    {
        while (true)
        {
            if (process.HasExited)
            {
                throw new InvalidOperationException($"Azurite exited with code {process.ExitCode}: {string.Join(" | ", Snapshot())}");
            }

            try
            {
                using var client = new TcpClient();
                await client.ConnectAsync(IPAddress.Loopback, port);
                return;
            }
            catch (SocketException) when (DateTime.UtcNow < deadline)
            {
                await Task.Delay(200);
            }
        }
    }

    /// <summary>A container client on a fresh, uniquely named container (created lazily by the store).</summary>
    public BlobContainerClient NewContainer(BlobTraceStoreOptions? options = null, HttpMessageHandler? handler = null)
    {
        options ??= FastStoreOptions();
        options.ConnectionString = ConnectionString;
        options.ContainerName = "t" + Guid.NewGuid().ToString("N")[..20];
        var clientOptions = BlobObjectStore.CreateClientOptions(options);
        if (handler is not null)
        {
            clientOptions.Transport = new HttpClientTransport(handler);
        }

        return BlobObjectStore.CreateContainerClient(options, clientOptions: clientOptions);
    }

    /// <summary>Store options with short retry delays so retry tests stay quick.</summary>
    /// <summary>A connection string with a real account SAS (signed with the dev key) instead of the key itself.</summary>
    public string SasConnectionString()
    {
        var sas = new Azure.Storage.Sas.AccountSasBuilder(
            Azure.Storage.Sas.AccountSasPermissions.All, DateTimeOffset.UtcNow.AddHours(1), Azure.Storage.Sas.AccountSasServices.Blobs, Azure.Storage.Sas.AccountSasResourceTypes.All)
            .ToSasQueryParameters(new Azure.Storage.StorageSharedKeyCredential(AccountName, AccountKey));
        return $"BlobEndpoint=http://127.0.0.1:{Port}/{AccountName};SharedAccessSignature={sas}";
    }

    public static BlobTraceStoreOptions FastStoreOptions() => new()
    {
        MaxRetries = 3,
        RetryDelay = TimeSpan.FromMilliseconds(20),
        MaxRetryDelay = TimeSpan.FromMilliseconds(200),
        NetworkTimeout = TimeSpan.FromSeconds(30),
    };

    private static BlobClientOptions FastOptions() => BlobObjectStore.CreateClientOptions(new BlobTraceStoreOptions { MaxRetries = 0 });

    private void Collect(string? line)
    {
        if (line is null)
        {
            return;
        }

        lock (_output)
        {
            _output.Add(line);
        }
    }

    private string[] Snapshot(int lines = 20)
    {
        lock (_output)
        {
            return [.. _output.TakeLast(lines)];
        }
    }

    internal static int FreePort()
    {
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        return ((IPEndPoint)listener.LocalEndpoint).Port;
    }

    private static string FindRepositoryRoot()
    {
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
        {
            if (File.Exists(Path.Combine(dir.FullName, "SpecFunctions.sln")))
            {
                return dir.FullName;
            }
        }

        throw new InvalidOperationException($"no SpecFunctions.sln above {AppContext.BaseDirectory}");
    }
}

[CollectionDefinition(Name)]
public sealed class AzuriteCollection : ICollectionFixture<AzuriteFixture>
{
    public const string Name = "Azurite";
}
