using System.Diagnostics;
using Microsoft.Extensions.Options;
using SpecFunctions.Core.Decoding;
using SpecFunctions.Core.Estimation;
using SpecFunctions.Core.Evaluation;
using SpecFunctions.Core.Reporting;
using SpecFunctions.Core.Storage;
using SpecFunctions.Core.Tracing;

namespace SpecFunctions.Orchestration;

/// <summary>
/// An estimate of a submission before it runs (<c>specfn estimate</c>, <c>POST /api/evaluations?dryRun=true</c>): the
/// suite as the run would see it (a referenced suite read and validated), a cost profile of the pair (calibrated on a few
/// prompts, or taken from a stored run's report), and <see cref="CostEstimator"/>'s arithmetic. Writes nothing.
/// </summary>
public sealed class RunEstimator(ITraceStore store, ModelCache models, IOptions<EvaluationLimits> limits, IOptions<EvaluationOptions> evaluation)
{
    /// <summary>
    /// The estimate of <paramref name="request"/>: its suite resolved, the profile from run <paramref name="profileRun"/>'s
    /// report when given, else calibrated on <paramref name="calibrationPrompts"/> prompts. Shards as the run would be
    /// sharded: <paramref name="parameters"/>' prompts per shard, else the request's settings', else this host's
    /// <see cref="EvaluationOptions.PromptsPerShard"/>.
    /// </summary>
    /// <exception cref="SuiteSourceException">The referenced suite is missing or invalid.</exception>
    /// <exception cref="RunNotFoundException">The profile run has no report.</exception>
    /// <exception cref="InvalidOperationException">The profile run's report has no baseline time per token.</exception>
    public async Task<RunEstimate> EstimateAsync(
        EvaluationRequest request, EstimateParameters parameters, string? profileRun, int calibrationPrompts, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(request);
        ArgumentNullException.ThrowIfNull(parameters);
        var suite = await ResolveSuiteAsync(request.Suite, cancellationToken).ConfigureAwait(false);
        CostProfile profile;
        if (profileRun is not null)
        {
            var report = await ReportPublisher.ReadAsync(store, profileRun, cancellationToken).ConfigureAwait(false)
                ?? throw new RunNotFoundException(profileRun, store.Location);
            profile = ProfileFromReport(report);
        }
        else
        {
            profile = Calibrate(request, suite, calibrationPrompts, cancellationToken);
        }

        var promptsPerShard = parameters.PromptsPerShard ?? request.Settings.PromptsPerShard ?? evaluation.Value.PromptsPerShard;
        return CostEstimator.Estimate(Workload(suite), Settings(request.Settings), profile, parameters with { PromptsPerShard = promptsPerShard });
    }

    /// <summary>The suite's tasks: inline as given, or read from its blob with the run's validation.</summary>
    /// <exception cref="SuiteSourceException">The referenced blob is missing or invalid.</exception>
    public async Task<SuiteDefinition> ResolveSuiteAsync(SuiteDefinition suite, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(suite);
        return suite.Source is { } source
            ? await store.ReadSuiteSourceAsync(suite.Name, source, limits.Value, cancellationToken).ConfigureAwait(false)
            : suite;
    }

    /// <summary>
    /// Measures the pair on up to <paramref name="prompts"/> prompts of the suite (the first prompt of each task in turn,
    /// then the second …) under the request's settings, one repeat, after one untimed pass over the same prompts: b, d, α, v and
    /// the untimed work per token (<see cref="CostProfile"/>).
    /// </summary>
    public CostProfile Calibrate(EvaluationRequest request, SuiteDefinition suite, int prompts, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(request);
        ArgumentNullException.ThrowIfNull(suite);
        ArgumentOutOfRangeException.ThrowIfLessThan(prompts, 1);
        var (drafter, _, verifier, _) = models.GetPair(request.Drafter, request.Verifier);
        var decoding = EvaluationDefaults.ToDecodingOptions(request.Settings, verifier);
        var sample = suite.Tasks.SelectMany(t => t.Prompts.Select((p, i) => (p, i))).OrderBy(x => x.i).Take(prompts)
            .Select(x => EvaluationDefaults.Tokenize(verifier, x.p)).ToList();

        // The sample once untimed first: the first calls of a process run unoptimised code (tiered JIT) and allocate the
        // runtime's buffers per shape, which on small models costs more than the work itself (measured: 40× on b).
        new TaskRunner(drafter, verifier, decoding) { StepProfilePrompts = 0 }.Run(sample, new RecordingSink(), cancellationToken: cancellationToken);
        var sink = new RecordingSink();
        var clock = Stopwatch.StartNew();
        new TaskRunner(drafter, verifier, decoding) { Repeats = 1, StepProfilePrompts = 0 }.Run(sample, sink, cancellationToken: cancellationToken);
        return ProfileOf(sink.Records, clock.Elapsed.TotalMilliseconds, decoding.Gamma);
    }

    /// <summary>The cost profile of records written by one <see cref="TaskRunner"/> pass (one repeat) that took <paramref name="wallMs"/>.</summary>
    public static CostProfile ProfileOf(IReadOnlyList<TraceRecord> records, double wallMs, int gamma)
    {
        ArgumentNullException.ThrowIfNull(records);
        var prompts = records.OfType<PromptTrace>().ToList();
        var steps = records.OfType<StepTrace>().ToList();
        var baselineTokens = prompts.Sum(p => p.BaselineTokens ?? 0);
        var baselineMs = prompts.Sum(p => p.BaselineMs ?? 0);
        if (prompts.Count == 0 || baselineTokens == 0 || baselineMs <= 0)
        {
            throw new InvalidOperationException("the calibration generated no baseline tokens; use longer prompts or a larger maxNewTokens");
        }

        var b = baselineMs / baselineTokens;
        var drafterCalls = steps.Sum(s => s.DrafterCalls);
        var d = drafterCalls > 0 ? steps.Sum(s => s.DrafterMs) / drafterCalls : 0;
        var alphas = records.OfType<ReferenceTrace>().SelectMany(r => r.Alpha).ToList();
        var alpha = alphas.Count > 0 ? Math.Clamp(alphas.Average(), 0, 1) : 0;

        // What a speculative step costs beyond its drafter calls, in verifier tokens: the model then reproduces the
        // measured speculative time (verification, catch-up, acceptance and the loop's own work together).
        var specSteps = prompts.Sum(p => p.Steps);
        var v = specSteps > 0 ? Math.Max(0, (prompts.Sum(p => p.SpeculativeMs) - steps.Sum(s => s.DrafterMs)) / specSteps / b) : 1;
        var generated = prompts.Sum(p => p.GeneratedTokens);
        var untimed = Math.Max(0, wallMs - prompts.Sum(p => p.SpeculativeMs + (p.BaselineMs ?? 0)));
        return new CostProfile
        {
            VerifierMsPerToken = b,
            DrafterMsPerToken = d,
            Alpha = alpha,
            VerificationCostRatio = v,
            UntimedMsPerToken = generated > 0 ? untimed / generated : 0,
            Source = $"calibrated on {prompts.Count} prompt(s) at γ = {gamma}",
        };
    }

    /// <summary>
    /// A cost profile from a stored run's report: b from <see cref="SuiteReport.BaselineMsPerToken"/>, d = c·b, α the mean
    /// of the tasks' α_T, and v from the step-cost profile at the run's γ (s_γ − γ·c) or the report's v_γ. The untimed work
    /// is not in a report and counts as 0.
    /// </summary>
    /// <exception cref="InvalidOperationException">The report has no baseline time per token (made before it was recorded) or no task.</exception>
    public static CostProfile ProfileFromReport(EvaluationReport report)
    {
        ArgumentNullException.ThrowIfNull(report);
        if (report.Suite.BaselineMsPerToken is not { } b || report.Tasks.Count == 0)
        {
            throw new InvalidOperationException($"the report of run '{report.RunId}' has no baseline time per token (written before it was recorded, or no baseline); calibrate instead");
        }

        var gamma = report.Suite.Gamma;
        var c = report.Suite.CostRatio;
        var v = report.Suite.StepCostProfile is { } steps && steps.Count >= gamma && gamma > 0
            ? Math.Max(0, steps[gamma - 1] - (gamma * c))
            : report.Suite.VerificationCostRatio;
        return new CostProfile
        {
            VerifierMsPerToken = b,
            DrafterMsPerToken = c * b,
            Alpha = Math.Clamp(report.Tasks.Average(t => t.Alpha), 0, 1),
            VerificationCostRatio = v,
            Source = $"report of run '{report.RunId}'",
        };
    }

    /// <summary>The workload of a resolved suite.</summary>
    public static IReadOnlyList<WorkloadTask> Workload(SuiteDefinition suite) =>
        [.. suite.Tasks.Select(t => new WorkloadTask(t.Id, t.Prompts.Count, t.Gamma))];

    /// <summary>The settings of a request that set its cost.</summary>
    public static WorkloadSettings Settings(EvaluationSettings settings) => new(settings.Gamma, settings.MaxNewTokens, settings.Repeats);

    private sealed class RecordingSink : ITraceSink
    {
        public List<TraceRecord> Records { get; } = [];

        public void Write(TraceRecord record) => Records.Add(record);
    }
}
