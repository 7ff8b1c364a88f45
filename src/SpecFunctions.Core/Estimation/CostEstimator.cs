using System.Globalization;
using System.Text.Json.Serialization;
using SpecFunctions.Core.Storage;

namespace SpecFunctions.Core.Estimation;

/// <summary>
/// What one model pair costs per generated token on one machine: measured on a few prompts (calibration) or taken from a
/// stored run. Milliseconds; the estimate scales them by the run's settings (docs/estimate.md).
/// </summary>
public sealed record CostProfile
{
    /// <summary>b: the verifier's autoregressive time per generated token (the baseline arm), ms.</summary>
    [JsonPropertyName("verifierMsPerToken")]
    public required double VerifierMsPerToken { get; init; }

    /// <summary>d: one drafter call (one draft token), ms.</summary>
    [JsonPropertyName("drafterMsPerToken")]
    public required double DrafterMsPerToken { get; init; }

    /// <summary>α: the mean acceptance probability of a draft token, in [0, 1].</summary>
    [JsonPropertyName("alpha")]
    public required double Alpha { get; init; }

    /// <summary>
    /// v: a speculative step's time outside the drafter calls, in verifier tokens (scoring γ+1 positions and the decode
    /// loop's own work, over <see cref="VerifierMsPerToken"/>). Default 1 (Leviathan's assumption).
    /// </summary>
    [JsonPropertyName("verificationCostRatio")]
    public double VerificationCostRatio { get; init; } = 1;

    /// <summary>Untimed work per generated token of a prompt (reference pass, verifier cost profile), ms. Default 0.</summary>
    [JsonPropertyName("untimedMsPerToken")]
    public double UntimedMsPerToken { get; init; }

    /// <summary>Where the figures come from, e.g. "calibrated on 3 prompts" or "report of run X".</summary>
    [JsonPropertyName("source")]
    public string Source { get; init; } = "";

    /// <summary>Throws <see cref="ArgumentException"/> unless every figure is finite and in range.</summary>
    public CostProfile Validate()
    {
        Require(VerifierMsPerToken > 0 && double.IsFinite(VerifierMsPerToken), "verifierMsPerToken must be a number > 0");
        Require(DrafterMsPerToken >= 0 && double.IsFinite(DrafterMsPerToken), "drafterMsPerToken must be a number >= 0");
        Require(Alpha is >= 0 and <= 1, "alpha must be in [0, 1]");
        Require(VerificationCostRatio >= 0 && double.IsFinite(VerificationCostRatio), "verificationCostRatio must be a number >= 0");
        Require(UntimedMsPerToken >= 0 && double.IsFinite(UntimedMsPerToken), "untimedMsPerToken must be a number >= 0");
        return this;
    }

    private static void Require(bool ok, string message)
    {
        if (!ok)
        {
            throw new ArgumentException(message);
        }
    }
}

/// <summary>The assumptions of an estimate that are not measured: sharding, fan-out, start-up, price.</summary>
public sealed record EstimateParameters
{
    /// <summary>Prompts per shard (one activity each); null: one shard per task. Default null (the hosts pass the run's).</summary>
    [JsonPropertyName("promptsPerShard")]
    public int? PromptsPerShard { get; init; }

    /// <summary>Wall time is given for 1 … this many replicas. Default 8.</summary>
    [JsonPropertyName("maxReplicas")]
    public int MaxReplicas { get; init; } = 8;

    /// <summary>
    /// Orchestration cost of one shard (dispatch, trace commit, manifest update), seconds of replica time. Default 0.25,
    /// the ≈ 0.24 s per activity measured on the embedded engine (issue 28).
    /// </summary>
    [JsonPropertyName("perShardOverheadSeconds")]
    public double PerShardOverheadSeconds { get; init; } = 0.25;

    /// <summary>A replica's start until it evaluates (image pull, model load, warm-up), seconds, billed. Default 60.</summary>
    [JsonPropertyName("coldStartSeconds")]
    public double ColdStartSeconds { get; init; } = 60;

    /// <summary>Price of one replica-second (GPU, its vCPUs and memory), in the currency of the setting. Default 0 (no cost).</summary>
    [JsonPropertyName("pricePerSecond")]
    public double PricePerSecond { get; init; }

    /// <summary>Prompts per shard on which the step-cost profile runs (one extra generation per γ = 1 … γ each). Default 2 (TaskRunner's).</summary>
    [JsonPropertyName("stepProfilePrompts")]
    public int StepProfilePrompts { get; init; } = 2;

    /// <summary>Throws <see cref="ArgumentException"/> unless every parameter is in range.</summary>
    public EstimateParameters Validate()
    {
        if (PromptsPerShard is < 1)
        {
            throw new ArgumentException("promptsPerShard must be >= 1");
        }

        if (MaxReplicas is < 1 or > 1024)
        {
            throw new ArgumentException("maxReplicas must be in 1..1024");
        }

        if (!(PerShardOverheadSeconds >= 0 && double.IsFinite(PerShardOverheadSeconds)) || !(ColdStartSeconds >= 0 && double.IsFinite(ColdStartSeconds))
            || !(PricePerSecond >= 0 && double.IsFinite(PricePerSecond)) || StepProfilePrompts < 0)
        {
            throw new ArgumentException("perShardOverheadSeconds, coldStartSeconds, pricePerSecond and stepProfilePrompts must be finite numbers >= 0");
        }

        return this;
    }
}

/// <summary>One task of the workload: its prompts and its own draft length (0 = plain decoding; null = the run's γ).</summary>
public sealed record WorkloadTask(string TaskId, int Prompts, int? Gamma = null);

/// <summary>The run's decoding settings that set its cost.</summary>
/// <param name="Gamma">The run's draft length γ.</param>
/// <param name="MaxNewTokens">Tokens per prompt; the estimate assumes every prompt generates them all (an upper bound unless EOS is ignored).</param>
/// <param name="Repeats">Timed repeats of each arm per prompt.</param>
public sealed record WorkloadSettings(int Gamma, int MaxNewTokens, int Repeats);

/// <summary>Wall time and cost at one replica count.</summary>
public sealed record ReplicaEstimate
{
    [JsonPropertyName("replicas")]
    public required int Replicas { get; init; }

    /// <summary>Cold start plus the most loaded replica's shards, seconds.</summary>
    [JsonPropertyName("wallSeconds")]
    public required double WallSeconds { get; init; }

    /// <summary>Replica-seconds billed: every replica used, from its cold start until its last shard ends.</summary>
    [JsonPropertyName("billedSeconds")]
    public required double BilledSeconds { get; init; }

    /// <summary><see cref="BilledSeconds"/> × the price per second.</summary>
    [JsonPropertyName("cost")]
    public required double Cost { get; init; }

    /// <summary>Ideal / actual: (work seconds / replicas) / <see cref="WallSeconds"/>.</summary>
    [JsonPropertyName("efficiency")]
    public required double Efficiency { get; init; }
}

/// <summary>An estimate of a run before it starts (<see cref="CostEstimator.Estimate"/>).</summary>
public sealed record RunEstimate
{
    [JsonPropertyName("tasks")]
    public required int Tasks { get; init; }

    [JsonPropertyName("prompts")]
    public required int Prompts { get; init; }

    /// <summary>Activities: Σ over tasks of ceil(prompts / promptsPerShard).</summary>
    [JsonPropertyName("shards")]
    public required int Shards { get; init; }

    /// <summary>Seconds of evaluation work (both arms, repeats, untimed passes, step profile), shard overhead excluded.</summary>
    [JsonPropertyName("workSeconds")]
    public required double WorkSeconds { get; init; }

    /// <summary>GPU-seconds: <see cref="WorkSeconds"/> plus every shard's overhead; cold starts excluded.</summary>
    [JsonPropertyName("gpuSeconds")]
    public required double GpuSeconds { get; init; }

    /// <summary>The longest shard, seconds (overhead included): the wall time no number of replicas goes below.</summary>
    [JsonPropertyName("longestShardSeconds")]
    public required double LongestShardSeconds { get; init; }

    /// <summary>Wall time and cost at 1 … <see cref="EstimateParameters.MaxReplicas"/> replicas.</summary>
    [JsonPropertyName("byReplicas")]
    public required IReadOnlyList<ReplicaEstimate> ByReplicas { get; init; }

    [JsonPropertyName("profile")]
    public required CostProfile Profile { get; init; }

    [JsonPropertyName("parameters")]
    public required EstimateParameters Parameters { get; init; }

    /// <summary>The assumptions in words, for the reader of the estimate.</summary>
    [JsonPropertyName("assumptions")]
    public required IReadOnlyList<string> Assumptions { get; init; }
}

/// <summary>
/// The estimate kept with a run (<see cref="Evaluation.EvaluationRequest.Prediction"/>), so that its report can show
/// predicted against actual.
/// </summary>
public sealed record RunPrediction
{
    /// <summary>Replicas the run was predicted for (the CLI: 1; the HTTP API: its setting).</summary>
    [JsonPropertyName("replicas")]
    public required int Replicas { get; init; }

    /// <summary>Predicted wall time at <see cref="Replicas"/>, seconds.</summary>
    [JsonPropertyName("wallSeconds")]
    public required double WallSeconds { get; init; }

    [JsonPropertyName("gpuSeconds")]
    public required double GpuSeconds { get; init; }

    [JsonPropertyName("cost")]
    public required double Cost { get; init; }

    [JsonPropertyName("profile")]
    public required CostProfile Profile { get; init; }

    /// <summary>The prediction at <paramref name="replicas"/> (clamped to the estimate's range).</summary>
    public static RunPrediction From(RunEstimate estimate, int replicas)
    {
        ArgumentNullException.ThrowIfNull(estimate);
        var row = estimate.ByReplicas[Math.Clamp(replicas, 1, estimate.ByReplicas.Count) - 1];
        return new RunPrediction { Replicas = row.Replicas, WallSeconds = row.WallSeconds, GpuSeconds = estimate.GpuSeconds, Cost = row.Cost, Profile = estimate.Profile };
    }
}

/// <summary>
/// The cost model of an evaluation run (docs/estimate.md): host-free arithmetic over a <see cref="CostProfile"/>, the
/// workload and the <see cref="EstimateParameters"/>. Per prompt of T tokens and R repeats:
/// R·(T·b + T·s_γ) + T·u ms, with s_γ = (γ·d + v·b) / f_γ(α) the speculative time per token and f_γ(α) = Σ_{k=0..γ} α^k;
/// a plain-decoding task (γ = 0) times the verifier alone and adds one untimed speculative pass. A task's first prompts
/// add the step-cost profile (one generation per γ' = 1 … γ), each shard a fixed overhead; shards are placed on
/// replicas longest first, each on the least loaded replica, after one cold start per replica.
/// </summary>
public static class CostEstimator
{
    /// <summary>f_γ(α) = Σ_{k=0..γ} α^k, expected tokens per verifier call (method.md §4); 1 at γ = 0.</summary>
    public static double TokensPerStep(double alpha, int gamma)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(gamma);
        var sum = 0.0;
        var term = 1.0;
        for (var k = 0; k <= gamma; k++)
        {
            sum += term;
            term *= alpha;
        }

        return sum;
    }

    /// <summary>Speculative time per generated token at draft length <paramref name="gamma"/>, ms; the verifier's own at γ = 0.</summary>
    public static double SpeculativeMsPerToken(CostProfile profile, int gamma)
    {
        ArgumentNullException.ThrowIfNull(profile);
        return gamma == 0
            ? profile.VerifierMsPerToken
            : ((gamma * profile.DrafterMsPerToken) + (profile.VerificationCostRatio * profile.VerifierMsPerToken)) / TokensPerStep(profile.Alpha, gamma);
    }

    /// <summary>One prompt's evaluation time, ms: both timed arms <c>Repeats</c> times, the untimed passes.</summary>
    /// <param name="taskGamma">The task's draft length (0 = plain decoding).</param>
    public static double PromptMs(CostProfile profile, WorkloadSettings settings, int taskGamma)
    {
        ArgumentNullException.ThrowIfNull(settings);
        double tokens = settings.MaxNewTokens;
        var timedArm = tokens * SpeculativeMsPerToken(profile, taskGamma);
        var baseline = tokens * profile.VerifierMsPerToken;
        var plainPass = taskGamma == 0 ? tokens * SpeculativeMsPerToken(profile, settings.Gamma) : 0;
        return (settings.Repeats * (timedArm + baseline)) + plainPass + (tokens * profile.UntimedMsPerToken);
    }

    /// <summary>The step-cost profile of one prompt: one generation at every γ' = 1 … γ, ms.</summary>
    public static double StepProfileMs(CostProfile profile, WorkloadSettings settings)
    {
        ArgumentNullException.ThrowIfNull(settings);
        return Enumerable.Range(1, settings.Gamma).Sum(g => settings.MaxNewTokens * SpeculativeMsPerToken(profile, g));
    }

    /// <summary>
    /// Shard sizes of a task as the run splits it (<see cref="ShardRange.Split"/>: at most <c>promptsPerShard</c> each,
    /// sizes as even as possible); one shard when null.
    /// </summary>
    public static IReadOnlyList<int> ShardSizes(int prompts, int? promptsPerShard)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(prompts, 1);
        var size = promptsPerShard ?? prompts;
        ArgumentOutOfRangeException.ThrowIfLessThan(size, 1, nameof(promptsPerShard));
        return [.. ShardRange.Split(prompts, size).Select(shard => shard.Prompts)];
    }

    /// <summary>
    /// Longest-processing-time-first placement: shards in descending duration (ties in input order), each on the replica
    /// with the least load so far (ties: the lowest index). Returns each replica's load, seconds.
    /// </summary>
    public static double[] ReplicaLoads(IReadOnlyList<double> shardSeconds, int replicas)
    {
        ArgumentNullException.ThrowIfNull(shardSeconds);
        ArgumentOutOfRangeException.ThrowIfLessThan(replicas, 1);
        var loads = new double[replicas];
        foreach (var seconds in shardSeconds.Select((s, i) => (s, i)).OrderByDescending(x => x.s).ThenBy(x => x.i).Select(x => x.s))
        {
            var least = 0;
            for (var r = 1; r < replicas; r++)
            {
                if (loads[r] < loads[least])
                {
                    least = r;
                }
            }

            loads[least] += seconds;
        }

        return loads;
    }

    /// <summary>Estimates a run of <paramref name="tasks"/> under <paramref name="settings"/>.</summary>
    public static RunEstimate Estimate(IReadOnlyList<WorkloadTask> tasks, WorkloadSettings settings, CostProfile profile, EstimateParameters parameters)
    {
        ArgumentNullException.ThrowIfNull(tasks);
        ArgumentNullException.ThrowIfNull(settings);
        ArgumentNullException.ThrowIfNull(profile);
        ArgumentNullException.ThrowIfNull(parameters);
        if (tasks.Count == 0)
        {
            throw new ArgumentException("a run has at least one task", nameof(tasks));
        }

        profile.Validate();
        parameters.Validate();
        var work = new List<double>();
        foreach (var task in tasks)
        {
            var gamma = task.Gamma ?? settings.Gamma;
            var promptMs = PromptMs(profile, settings, gamma);
            var profileMs = gamma == 0 ? 0 : StepProfileMs(profile, settings);
            // The step-cost profile is timed on the task's first prompts (by index in the task), so only the shards that
            // hold them pay it.
            var first = 0;
            foreach (var size in ShardSizes(task.Prompts, parameters.PromptsPerShard))
            {
                var profiled = Math.Clamp(parameters.StepProfilePrompts - first, 0, size);
                work.Add(((size * promptMs) + (profiled * profileMs)) / 1000);
                first += size;
            }
        }

        var shardSeconds = work.Select(w => w + parameters.PerShardOverheadSeconds).ToList();
        var workSeconds = work.Sum();
        var rows = new List<ReplicaEstimate>(parameters.MaxReplicas);
        for (var k = 1; k <= parameters.MaxReplicas; k++)
        {
            var used = ReplicaLoads(shardSeconds, k).Where(l => l > 0).ToList();
            var wall = parameters.ColdStartSeconds + used.Max();
            var billed = used.Sum(l => parameters.ColdStartSeconds + l);
            rows.Add(new ReplicaEstimate
            {
                Replicas = k,
                WallSeconds = wall,
                BilledSeconds = billed,
                Cost = billed * parameters.PricePerSecond,
                Efficiency = workSeconds / k / wall,
            });
        }

        return new RunEstimate
        {
            Tasks = tasks.Count,
            Prompts = tasks.Sum(t => t.Prompts),
            Shards = shardSeconds.Count,
            WorkSeconds = workSeconds,
            GpuSeconds = shardSeconds.Sum(),
            LongestShardSeconds = shardSeconds.Max(),
            ByReplicas = rows,
            Profile = profile,
            Parameters = parameters,
            Assumptions = Assumptions(settings, parameters),
        };
    }

    private static List<string> Assumptions(WorkloadSettings settings, EstimateParameters p) =>
    [
        string.Create(CultureInfo.InvariantCulture, $"every prompt generates all {settings.MaxNewTokens} tokens (an upper bound unless ignoreEos is set)"),
        string.Create(CultureInfo.InvariantCulture, $"per prompt: {settings.Repeats} timed repeat(s) of the speculative and the baseline arm, one untimed reference pass"),
        "the profile's per-token costs hold for every prompt and position (prompt lengths and the KV cache's growth are averaged in the calibration)",
        string.Create(CultureInfo.InvariantCulture, $"each task measures the step-cost profile on its first {p.StepProfilePrompts} prompt(s); each shard costs {p.PerShardOverheadSeconds} s of orchestration overhead"),
        string.Create(CultureInfo.InvariantCulture, $"each replica starts cold once ({p.ColdStartSeconds} s, billed) and evaluates one shard at a time; shards are placed longest first on the least loaded replica"),
        string.Create(CultureInfo.InvariantCulture, $"a replica is billed from its cold start until its last shard ends, at {p.PricePerSecond} per second; scale-in delay and the orchestration plane are not counted"),
    ];
}
