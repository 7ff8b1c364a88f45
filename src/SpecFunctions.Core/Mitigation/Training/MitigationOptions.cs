using System.Text.Json.Serialization;

namespace SpecFunctions.Core.Mitigation.Training;

/// <summary>
/// Hyperparameters of an in-process drafter mitigation (<see cref="DrafterMitigation"/>), one record for every model
/// family; <see cref="Mlp"/> and <see cref="Transformer"/> are the two demo families' documented defaults. A property's
/// initial value is the MLP preset's.
/// </summary>
public sealed record MitigationOptions
{
    /// <summary>The MLP demo pair's defaults (SpecFunctions.Demo README, "Mitigation"): 600 steps of 32 prefixes, Adam lr 0.002, K 100, 40 prompts per task, 96 bytes.</summary>
    public static MitigationOptions Mlp { get; } = new();

    /// <summary>The transformer pair's defaults (docs/benchmarks.md, "Transformer pair"): 150 steps of 8 sequences, AdamW lr 1e-3, K 50, 24 prompts per task, 24 tokens.</summary>
    public static MitigationOptions Transformer { get; } = new()
    {
        Steps = 150,
        BatchSize = 8,
        LearningRate = 1e-3,
        ReweightEvery = 50,
        PromptsPerTask = 24,
        Continuation = 24,
    };

    /// <summary>Fine-tuning steps.</summary>
    [JsonPropertyName("steps")]
    public int Steps { get; init; } = 600;

    /// <summary>Rows per step (prefixes for the MLP, sequences for the transformer), all from one sampled task.</summary>
    [JsonPropertyName("batchSize")]
    public int BatchSize { get; init; } = 32;

    /// <summary>Learning rate of the family's optimiser (constant).</summary>
    [JsonPropertyName("learningRate")]
    public double LearningRate { get; init; } = 0.002;

    /// <summary>K: steps between re-estimates of D_T on the dev prompts and of the task weights.</summary>
    [JsonPropertyName("reweightEvery")]
    public int ReweightEvery { get; init; } = 100;

    /// <summary>Training prompts used per task (the first non-empty ones).</summary>
    [JsonPropertyName("promptsPerTask")]
    public int PromptsPerTask { get; init; } = 40;

    /// <summary>
    /// The evaluated run's sampling temperature, which the soft labels, the verifier's continuations, the drafter's loss
    /// and every held-out D_T follow (method.md §6 step 2: under the run's sampling settings). 1 for greedy runs, whose
    /// D_T is defined at temperature 1. Default 1.
    /// </summary>
    [JsonPropertyName("temperature")]
    public double Temperature { get; init; } = 1;

    /// <summary>What the verifier generates after each training prompt (at <see cref="Temperature"/>): bytes for the MLP (stopping at a line feed), tokens for the transformer.</summary>
    [JsonPropertyName("continuation")]
    public int Continuation { get; init; } = 96;

    /// <summary>Drafter temperatures τ the <c>temperature</c> strategy tries. Default 0.7 … 2.0.</summary>
    [JsonPropertyName("temperatureGrid")]
    public IReadOnlyList<double> TemperatureGrid { get; init; } = [0.7, 0.8, 0.9, 1.0, 1.1, 1.25, 1.5, 1.75, 2.0];

    /// <summary>γ of the expected-tokens guard of the <c>temperature</c> strategy. Default 4.</summary>
    [JsonPropertyName("gamma")]
    public int Gamma { get; init; } = 4;

    /// <summary>Largest relative drop of mean f_γ(α_T) the <c>temperature</c> strategy accepts. Default 0.02.</summary>
    [JsonPropertyName("speedupTolerance")]
    public double SpeedupTolerance { get; init; } = 0.02;

    /// <summary>Gradient shards per batch (MLP only: results depend on it, not on threads). Default 2.</summary>
    [JsonPropertyName("shards")]
    public int Shards { get; init; } = 2;
}
