using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using Azure.Core.Pipeline;
using Azure.Storage.Blobs;
using SpecFunctions.Storage;

namespace SpecFunctions.Storage.Tests;

/// <summary>
/// Starts the repository's pinned Azurite (blob service only, in memory, loopback, a free port) once for the test
/// collection and kills it by PID at the end. Fails, never skips, when Azurite is not installed.
/// </summary>
public sealed class AzuriteFixture : IAsyncLifetime
{
    // Azurite's well-known development account (public, documented; not a secret).
    private const string AccountName = "devstoreaccount1";
    private const string AccountKey = "Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw==";

    private Process? _process;
    private readonly List<string> _output = [];

    public int Port { get; private set; }

    public string ConnectionString =>
        $"DefaultEndpointsProtocol=http;AccountName={AccountName};AccountKey={AccountKey};BlobEndpoint=http://127.0.0.1:{Port}/{AccountName};";

    public static string RepositoryRoot { get; } = FindRepositoryRoot();

    public async Task InitializeAsync()
    {
        var executable = Path.Combine(RepositoryRoot, "node_modules", ".bin", "azurite-blob");
        if (!File.Exists(executable))
        {
            throw new InvalidOperationException(
                $"Azurite is not installed ({executable} is missing): run `npm ci` in {RepositoryRoot} (package.json pins azurite 3.37.0).");
        }

        Port = FreePort();
        var start = new ProcessStartInfo(executable)
        {
            WorkingDirectory = RepositoryRoot,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        // skipApiVersionCheck: Azure.Storage.Blobs 12.30 speaks a newer API version than Azurite 3.37 knows.
        foreach (var argument in new[] { "--skipApiVersionCheck", "--inMemoryPersistence", "--blobHost", "127.0.0.1", "--blobPort", Port.ToString(System.Globalization.CultureInfo.InvariantCulture), "--silent" })
        {
            start.ArgumentList.Add(argument);
        }

        _process = Process.Start(start) ?? throw new InvalidOperationException("could not start Azurite");
        _process.OutputDataReceived += (_, e) => Collect(e.Data);
        _process.ErrorDataReceived += (_, e) => Collect(e.Data);
        _process.BeginOutputReadLine();
        _process.BeginErrorReadLine();

        var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(60);
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
        if (_process is { HasExited: false })
        {
            // Azurite's node process survives SIGTERM (its listeners close but it keeps running): kill -9 by PID.
            _process.Kill(entireProcessTree: true);
            _process.WaitForExit(10_000);
        }

        _process?.Dispose();
        return Task.CompletedTask;
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

    private string[] Snapshot()
    {
        lock (_output)
        {
            return [.. _output.TakeLast(20)];
        }
    }

    private static int FreePort()
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
