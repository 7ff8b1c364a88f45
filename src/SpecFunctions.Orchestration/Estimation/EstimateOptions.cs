using SpecFunctions.Core.Estimation;

namespace SpecFunctions.Orchestration;

/// <summary>
/// The unmeasured assumptions of estimates (section <see cref="SectionName"/>): price, start-up, fan-out. The prices in
/// docs/estimate.md are the platform's published ones at the date given there; check them before relying on a cost.
/// </summary>
public sealed class EstimateOptions
{
    public const string SectionName = "Estimate";

    // The cost model's own defaults, held once in EstimateParameters; specfn estimate reads its option defaults from here.
    private static readonly EstimateParameters Defaults = new();

    /// <summary>Price of one replica-second (GPU with its vCPUs and memory), in the currency of the setting. Default 0: no cost is shown.</summary>
    public double PricePerSecond { get; set; } = Defaults.PricePerSecond;

    /// <summary>A replica's cold start (image, model load, warm-up), seconds, billed. Default 60.</summary>
    public double ColdStartSeconds { get; set; } = Defaults.ColdStartSeconds;

    /// <summary>Orchestration overhead per shard (one activity), seconds. Default 0.25 (measured ≈ 0.24 s on the embedded engine).</summary>
    public double PerShardOverheadSeconds { get; set; } = Defaults.PerShardOverheadSeconds;

    /// <summary>Wall time is estimated at 1 … this many replicas. Default 8.</summary>
    public int MaxReplicas { get; set; } = Defaults.MaxReplicas;

    /// <summary>Replicas a submitted run's prediction is made for (<c>?estimate=true</c>). Default 1.</summary>
    public int Replicas { get; set; } = 1;

    /// <summary>Prompts the calibration decodes (first prompts of the tasks, in turn). Default 3.</summary>
    public int CalibrationPrompts { get; set; } = 3;

    /// <summary>The parameters of <see cref="CostEstimator.Estimate"/> with <paramref name="promptsPerShard"/> (null: the run's, as it would be sharded) and optional overrides.</summary>
    public EstimateParameters ToParameters(int? promptsPerShard, int? maxReplicas = null) => new()
    {
        PromptsPerShard = promptsPerShard,
        MaxReplicas = maxReplicas ?? MaxReplicas,
        PerShardOverheadSeconds = PerShardOverheadSeconds,
        ColdStartSeconds = ColdStartSeconds,
        PricePerSecond = PricePerSecond,
    };
}
