namespace SpecFunctions.Core.Sampling;

/// <summary>
/// Transforms applied identically to drafter and verifier logits before anything is sampled or measured
/// (method.md §1). Temperature 0 selects greedy decoding.
/// </summary>
public sealed record SamplingOptions
{
    /// <summary>Softmax temperature; 0 means greedy (argmax). Default 1.</summary>
    public double Temperature { get; init; } = 1.0;

    /// <summary>Keep only the <c>TopK</c> most likely tokens; 0 disables. Default 0.</summary>
    public int TopK { get; init; }

    /// <summary>Keep the smallest set of tokens whose mass reaches <c>TopP</c>; 1 disables. Default 1.</summary>
    public double TopP { get; init; } = 1.0;

    public bool IsGreedy => Temperature == 0;

    public static SamplingOptions Default { get; } = new();

    public static SamplingOptions Greedy { get; } = new() { Temperature = 0 };

    /// <summary>Throws <see cref="ArgumentOutOfRangeException"/> naming the first invalid option.</summary>
    public void Validate()
    {
        if (double.IsNaN(Temperature) || Temperature < 0)
        {
            throw new ArgumentOutOfRangeException(nameof(Temperature), Temperature, "temperature must be >= 0");
        }

        if (TopK < 0)
        {
            throw new ArgumentOutOfRangeException(nameof(TopK), TopK, "top-k must be >= 0 (0 disables)");
        }

        if (double.IsNaN(TopP) || TopP <= 0 || TopP > 1)
        {
            throw new ArgumentOutOfRangeException(nameof(TopP), TopP, "top-p must be in (0, 1]");
        }
    }
}
