using System.Diagnostics;
using System.Net.Http.Json;
using System.Text.Json;
using SpecFunctions.Core.Storage;
using SpecFunctions.Demo;
using SpecFunctions.Storage;
using SpecFunctions.Storage.Tests;
using SpecFunctions.Tests.Shared;

namespace SpecFunctions.Functions.EndToEnd.Tests;

/// <summary>
/// Publishes the Functions app once (<c>dotnet publish</c>, as a user does), starts Azurite (blob, queue, table) and a
/// real Functions host on the published folder, with the settings of local.settings.sample.json (the built-in demo
/// pair, prebuilt here in a cache folder so the app finds it at once) and a 10-second audit schedule.
/// </summary>
public sealed class FunctionsAppFixture : IAsyncLifetime
{
    public const string MasterKey = "e2e-master-key-0123456789";

    /// <summary>The audit timer's schedule here: every 10 seconds.</summary>
    public const string AuditSchedule = "*/10 * * * * *";

    private readonly AzuriteFixture _azurite = new() { WithQueue = true, WithTable = true };
    private readonly string _work = Path.Combine(Path.GetTempPath(), "specfn-e2e-" + Guid.NewGuid().ToString("N")[..12]);
    private int _starts;

    public FunctionsHost Host { get; private set; } = null!;

    public HttpClient Http { get; private set; } = null!;

    /// <summary>The run store the app writes to, read directly from Azurite.</summary>
    public ITraceStore Store { get; private set; } = null!;

    public string ConnectionString => _azurite.ConnectionString;

    public string AppFolder => Path.Combine(_work, "app");

    public int Port { get; private set; }

    public static string RepositoryRoot => AzuriteFixture.RepositoryRoot;

    /// <summary>How long publishing, the demo pair and the first host start took (for the closing note).</summary>
    public TimeSpan PublishTime { get; private set; }

    public TimeSpan ModelsTime { get; private set; }

    public TimeSpan FirstStartTime { get; private set; }

    /// <summary>Where the demo pair is built once and reused across test runs (cache key checked by DemoModels).</summary>
    public static string DemoFolder { get; } = Path.Combine(Path.GetTempPath(), "specfn-e2e-demo-models");

    public async Task InitializeAsync()
    {
        Directory.CreateDirectory(_work);
        var clock = Stopwatch.StartNew();
        var azurite = _azurite.InitializeAsync();
        await PublishAsync(AppFolder);
        PublishTime = clock.Elapsed;
        clock.Restart();
        await DemoModels.EnsureAsync(DemoFolder);
        ModelsTime = clock.Elapsed;
        await azurite;
        Store = BlobObjectStore.CreateTraceStore(ConnectionString);
        Port = AzuriteFixture.FreePort();
        clock.Restart();
        await StartHostAsync();
        FirstStartTime = clock.Elapsed;
        Http = new HttpClient { BaseAddress = new Uri($"http://127.0.0.1:{Port}/api/"), Timeout = TimeSpan.FromSeconds(60) };
        Http.DefaultRequestHeaders.Add("x-functions-key", MasterKey);
    }

    /// <summary>Starts the host (again) on the same app, storage, port and keys.</summary>
    public async Task StartHostAsync()
    {
        // The app settings a user gets by copying local.settings.sample.json, with this fixture's storage, demo-pair cache
        // folder and a fast audit schedule.
        var settings = SampleSettings(ConnectionString);
        settings["AUDIT_SCHEDULE"] = AuditSchedule;
        Host = await FunctionsHost.StartAsync(AppFolder, Port, ConnectionString, MasterKey, settings, _work, $"host-{++_starts}.log");
    }

    /// <summary>The settings of local.settings.sample.json with this storage, the demo-pair cache folder and console logs.</summary>
    public static Dictionary<string, string> SampleSettings(string connectionString)
    {
        var sample = JsonDocument.Parse(File.ReadAllText(Path.Combine(RepositoryRoot, "local.settings.sample.json")));
        var settings = sample.RootElement.GetProperty("Values").EnumerateObject().ToDictionary(p => p.Name, p => p.Value.GetString() ?? "");
        settings["AzureWebJobsStorage"] = connectionString;
        settings["Models__DemoFolder"] = DemoFolder;
        settings["AzureFunctionsJobHost__Logging__Console__IsEnabled"] = "true";
        return settings;
    }

    /// <summary>GET a route until <paramref name="done"/> holds for its JSON body (polls every 250 ms).</summary>
    public async Task<JsonElement> PollAsync(string route, Func<JsonElement, bool> done, TimeSpan timeout)
    {
        var deadline = DateTime.UtcNow + timeout;
        while (true)
        {
            var body = await Http.GetFromJsonAsync<JsonElement>(route);
            if (done(body))
            {
                return body;
            }

            if (DateTime.UtcNow > deadline)
            {
                throw new TimeoutException($"{route} did not reach the expected state in {timeout.TotalSeconds:F0} s; last: {body}\n{Host.Tail()}");
            }

            await Task.Delay(250);
        }
    }

    /// <summary>Polls the evaluation's status until it is no longer pending or running.</summary>
    public Task<JsonElement> WaitFinishedAsync(string runId, TimeSpan timeout) =>
        PollAsync($"evaluations/{runId}", s => s.GetProperty("runtimeStatus").GetString() is not ("Pending" or "Running"), timeout);

    public async Task DisposeAsync()
    {
        Http?.Dispose();
        Host?.Dispose();
        await _azurite.DisposeAsync();
        try
        {
            Directory.Delete(_work, recursive: true);
        }
        catch (IOException)
        {
        }
    }

    /// <summary>
    /// <c>dotnet publish</c> of the Functions project from the build test.sh just made (Release); a full publish when that
    /// build is missing (a test run on its own).
    /// </summary>
    public static async Task PublishAsync(string appFolder)
    {
        var project = Path.Combine(RepositoryRoot, "src", "SpecFunctions.Functions", "SpecFunctions.Functions.csproj");
        var built = File.Exists(Path.Combine(RepositoryRoot, "src", "SpecFunctions.Functions", "bin", "Release", "net10.0", "SpecFunctions.Functions.dll"));
        string[] arguments = ["publish", project, "-c", "Release", "-o", appFolder, "--nologo", .. built ? new[] { "--no-build" } : []];
        var result = await DotnetCommand.RunAsync(null, arguments);
        if (!result.Succeeded)
        {
            throw new InvalidOperationException($"dotnet {string.Join(' ', arguments)} failed: {result}");
        }
    }
}

[CollectionDefinition(Name)]
public sealed class FunctionsAppCollection : ICollectionFixture<FunctionsAppFixture>
{
    public const string Name = "Functions app on a real host";
}
