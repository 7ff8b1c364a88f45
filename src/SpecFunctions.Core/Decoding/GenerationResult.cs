using SpecFunctions.Core.Tracing;

namespace SpecFunctions.Core.Decoding;

/// <summary>What one prompt's generation produced.</summary>
public sealed record GenerationResult
{
    public required int[] Tokens { get; init; }

    public required StopReason StopReason { get; init; }

    /// <summary>Speculative steps (or autoregressive verifier calls).</summary>
    public required int Steps { get; init; }

    /// <summary>Wall time, prefill included, time spent writing trace records excluded.</summary>
    public required TimeSpan Elapsed { get; init; }

    /// <summary>Time inside drafter calls.</summary>
    public TimeSpan DrafterTime { get; init; }

    /// <summary>Time inside verifier calls, prefill excluded.</summary>
    public TimeSpan VerifierTime { get; init; }

    public int DraftedTokens { get; init; }

    public int AcceptedTokens { get; init; }
}
