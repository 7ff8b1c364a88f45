using System.Diagnostics;
using Azure.Storage.Queues;
using SpecFunctions.Core.Storage;
using SpecFunctions.Demo;
using SpecFunctions.Storage;
using SpecFunctions.Storage.Tests;

// One host set at a time: the single-app and the two-plane collections would otherwise share the two cores and each
// other's timings.
[assembly: CollectionBehavior(DisableTestParallelization = true)]

namespace SpecFunctions.Functions.EndToEnd.Tests;

/// <summary>
/// The two-plane deployment on one machine: one Azurite, one published app, two real Functions hosts with the settings
/// infra/ gives the two container apps. The control plane (HTTP API, timer, orchestrations, fairness, the completion
/// queue) dispatches through the evaluation queue and has the evaluator function switched off; the evaluator plane loads
/// only <c>EvaluateQueuedTask</c> (no HTTP API in use, no Durable work).
/// </summary>
public sealed class TwoPlaneFixture : IAsyncLifetime
{
    /// <summary>How long the control plane waits for a task's completion before it dispatches the task again.</summary>
    public const int DispatchTimeoutSeconds = 45;

    private readonly AzuriteFixture _azurite = new() { WithQueue = true, WithTable = true };
    private readonly string _work = Path.Combine(Path.GetTempPath(), "specfn-2p-" + Guid.NewGuid().ToString("N")[..12]);
    private int _evaluatorStarts;

    public FunctionsHost Control { get; private set; } = null!;

    /// <summary>The evaluator host, or null while it is down.</summary>
    public FunctionsHost? Evaluator { get; private set; }

    /// <summary>Every evaluator host started so far (their logs stay readable after a kill).</summary>
    public List<FunctionsHost> Evaluators { get; } = [];

    public HttpClient Http { get; private set; } = null!;

    public ITraceStore Store { get; private set; } = null!;

    public string ConnectionString => _azurite.ConnectionString;

    public int ControlPort { get; private set; }

    public string AppFolder => Path.Combine(_work, "app");

    /// <summary>The evaluation queue, read directly (message counts).</summary>
    public QueueClient EvaluationQueue => new(ConnectionString, "specfn-evaluations");

    public async Task InitializeAsync()
    {
        Directory.CreateDirectory(_work);
        var azurite = _azurite.InitializeAsync();
        await FunctionsAppFixture.PublishAsync(AppFolder);
        await DemoModels.EnsureAsync(FunctionsAppFixture.DemoFolder);
        await azurite;
        Store = BlobObjectStore.CreateTraceStore(ConnectionString);
        ControlPort = AzuriteFixture.FreePort();
        var control = FunctionsAppFixture.SampleSettings(ConnectionString);
        control["Evaluation__Dispatch"] = "Queue";
        control["Evaluation__DispatchTimeoutSeconds"] = DispatchTimeoutSeconds.ToString(System.Globalization.CultureInfo.InvariantCulture);
        control["AzureWebJobs.EvaluateQueuedTask.Disabled"] = "true";
        Control = await FunctionsHost.StartAsync(AppFolder, ControlPort, ConnectionString, FunctionsAppFixture.MasterKey, control, _work, "control.log");
        Http = new HttpClient { BaseAddress = new Uri($"http://127.0.0.1:{ControlPort}/api/"), Timeout = TimeSpan.FromSeconds(60) };
        Http.DefaultRequestHeaders.Add("x-functions-key", FunctionsAppFixture.MasterKey);
        await StartEvaluatorAsync();
    }

    /// <summary>Starts an evaluator host (its own port) with <paramref name="extra"/> settings; returns how long it took to answer.</summary>
    public async Task<TimeSpan> StartEvaluatorAsync(IReadOnlyDictionary<string, string>? extra = null)
    {
        Assert.Null(Evaluator);
        var clock = Stopwatch.StartNew();
        var settings = FunctionsAppFixture.SampleSettings(ConnectionString);
        settings["AzureFunctionsJobHost__functions__0"] = "EvaluateQueuedTask";
        foreach (var (name, value) in extra ?? new Dictionary<string, string>())
        {
            settings[name] = value;
        }

        Evaluator = await FunctionsHost.StartAsync(
            AppFolder, AzuriteFixture.FreePort(), ConnectionString, FunctionsAppFixture.MasterKey, settings, _work, $"evaluator-{++_evaluatorStarts}.log");
        Evaluators.Add(Evaluator);
        return clock.Elapsed;
    }

    /// <summary>kill -9 of the evaluator host and its worker: a replica lost mid-task.</summary>
    public void KillEvaluator()
    {
        Evaluator?.KillHard();
        Evaluator = null;
    }

    public async Task DisposeAsync()
    {
        Http?.Dispose();
        foreach (var evaluator in Evaluators)
        {
            evaluator.Dispose();
        }

        Control?.Dispose();
        await _azurite.DisposeAsync();
        try
        {
            Directory.Delete(_work, recursive: true);
        }
        catch (IOException)
        {
        }
    }
}

[CollectionDefinition(Name)]
public sealed class TwoPlaneCollection : ICollectionFixture<TwoPlaneFixture>
{
    public const string Name = "Control and evaluator planes on two real hosts";
}
