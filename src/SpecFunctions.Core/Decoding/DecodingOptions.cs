using SpecFunctions.Core.Sampling;

namespace SpecFunctions.Core.Decoding;

/// <summary>Settings of one generation (speculative or autoregressive).</summary>
public sealed record DecodingOptions
{
    /// <summary>Largest draft length γ a speculative step uses (1..64). Default 4.</summary>
    public int Gamma { get; init; } = 4;

    /// <summary>Token budget per prompt, bonus/correction tokens included. Default 128.</summary>
    public int MaxNewTokens { get; init; } = 128;

    /// <summary>Stop after this many speculative steps (or verifier calls for the baseline); null = no limit. Default null.</summary>
    public int? MaxSteps { get; init; }

    /// <summary>Tokens that end a generation; the stop token itself is emitted.</summary>
    public IReadOnlyCollection<int> StopTokens { get; init; } = [];

    public SamplingOptions Sampling { get; init; } = SamplingOptions.Default;

    /// <summary>Seed of the random source; the stream for prompt <c>i</c> is derived from (Seed, i), so prompts are reproducible on their own.</summary>
    public long Seed { get; init; } = 1;

    /// <summary>Record α(s), cross-entropy and KL per drafted position (costs a few vector passes per position). Default true.</summary>
    public bool ComputeStatistics { get; init; } = true;

    /// <summary>Keep the generated token ids in <see cref="Tracing.PromptTrace.Tokens"/>. Default true.</summary>
    public bool RecordTokens { get; init; } = true;

    public const int MaxGamma = 64;

    /// <summary>Throws <see cref="ArgumentOutOfRangeException"/> naming the first invalid option.</summary>
    public void Validate()
    {
        if (Gamma is < 1 or > MaxGamma)
        {
            throw new ArgumentOutOfRangeException(nameof(Gamma), Gamma, $"gamma must be in 1..{MaxGamma}");
        }

        if (MaxNewTokens < 1)
        {
            throw new ArgumentOutOfRangeException(nameof(MaxNewTokens), MaxNewTokens, "max new tokens must be >= 1");
        }

        if (MaxSteps is < 1)
        {
            throw new ArgumentOutOfRangeException(nameof(MaxSteps), MaxSteps, "max steps must be >= 1");
        }

        Sampling.Validate();
    }

    /// <summary>The random source for one prompt: SplitMix64 of (seed, prompt index), so streams do not overlap for nearby seeds.</summary>
    public Random CreateRandom(int promptIndex)
    {
        var z = unchecked((ulong)Seed * 0x9E3779B97F4A7C15UL + (ulong)promptIndex + 0x632BE59BD9B4E019UL);
        z = unchecked((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9UL);
        z = unchecked((z ^ (z >> 27)) * 0x94D049BB133111EBUL);
        z ^= z >> 31;
        return new Random((int)(z & 0x7FFFFFFF));
    }
}
