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

    private readonly string _work = Path.Combine(Path.GetTempPath(), "specfn-2p-" + Guid.NewGuid().ToString("N")[..12]);
    private readonly AzuriteFixture _azurite;
    private int _evaluatorStarts;

    public TwoPlaneFixture()
    {
        // On disk, not in memory: the storage outage test stops Azurite and starts it again on the same data.
        _azurite = new() { WithQueue = true, WithTable = true, Location = Path.Combine(_work, "azurite") };
    }

    /// <summary>Azurite itself (the storage outage test stops and restarts it).</summary>
    public AzuriteFixture Azurite => _azurite;

    public FunctionsHost Control { get; private set; } = null!;

    /// <summary>Every control host started so far (one, unless <see cref="RestartControlAsync"/> started another).</summary>
    public List<FunctionsHost> Controls { get; } = [];

    private Dictionary<string, string> _controlSettings = [];

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
        Directory.CreateDirectory(Path.Combine(_work, "azurite"));
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
        _controlSettings = control;
        // A ~150-shard suite puts every shard on the queue at once: the last ones wait longer than the dispatch timeout
        // and are sent again (the duplicate finds its shard committed); 8 dispatches keep such a wait from failing a task.
        control["Evaluation__MaxDispatches"] = "8";
        await RestartControlAsync();
        Http = new HttpClient { BaseAddress = new Uri($"http://127.0.0.1:{ControlPort}/api/"), Timeout = TimeSpan.FromSeconds(60) };
        Http.DefaultRequestHeaders.Add("x-functions-key", FunctionsAppFixture.MasterKey);
        await StartEvaluatorAsync();
    }

    /// <summary>Starts the control host (again, as the platform restarts a replica that exited) on the same port and settings.</summary>
    public async Task RestartControlAsync()
    {
        Control = await FunctionsHost.StartAsync(
            AppFolder, ControlPort, ConnectionString, FunctionsAppFixture.MasterKey, _controlSettings, _work, $"control-{Controls.Count + 1}.log");
        Controls.Add(Control);
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

    /// <summary>
    /// Starts one more evaluator host beside <see cref="Evaluator"/> (a second replica), with <paramref name="extra"/>
    /// settings; the caller kills it with
    /// <see cref="Kill"/> before the test ends.
    /// </summary>
    public async Task<FunctionsHost> StartAnotherEvaluatorAsync(IReadOnlyDictionary<string, string>? extra = null)
    {
        var settings = FunctionsAppFixture.SampleSettings(ConnectionString);
        settings["AzureFunctionsJobHost__functions__0"] = "EvaluateQueuedTask";
        foreach (var (name, value) in extra ?? new Dictionary<string, string>())
        {
            settings[name] = value;
        }

        var host = await FunctionsHost.StartAsync(
            AppFolder, AzuriteFixture.FreePort(), ConnectionString, FunctionsAppFixture.MasterKey, settings, _work, $"evaluator-{++_evaluatorStarts}.log");
        Evaluators.Add(host);
        return host;
    }

    /// <summary>kill -9 of one evaluator host (<see cref="Evaluator"/> or another one) and its worker.</summary>
    public void Kill(FunctionsHost host)
    {
        host.KillHard();
        if (ReferenceEquals(host, Evaluator))
        {
            Evaluator = null;
        }
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

        foreach (var control in Controls)
        {
            control.Dispose();
        }

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
