using System.Numerics.Tensors;

namespace SpecFunctions.Core.Sampling;

/// <summary>
/// Turns logits into the distributions that are actually sampled from, and measures pairs of them.
/// All loops are vectorised with <see cref="TensorPrimitives"/>: the engine runs these on every drafted position.
/// </summary>
public static class Distributions
{
    /// <summary>
    /// Smallest probability used inside <c>log q</c>: a drafter that puts no mass where the verifier has some
    /// (possible after top-k/top-p) would otherwise have infinite cross-entropy. −log(1e-12) ≈ 27.6 nats per position at most.
    /// </summary>
    public const float LogFloor = 1e-12f;

    /// <summary>
    /// Writes <c>softmax(logits / temperature)</c> after top-k and top-p filtering into <paramref name="probs"/>.
    /// Greedy options (temperature 0) produce the temperature-1 softmax; callers use <see cref="ArgMax"/> to decide.
    /// <paramref name="scratch"/> must be as long as the vocabulary when top-k or top-p is active (may be empty otherwise).
    /// </summary>
    public static void ToProbabilities(ReadOnlySpan<float> logits, Span<float> probs, SamplingOptions options, Span<float> scratch = default)
    {
        var temperature = options.IsGreedy ? 1.0f : (float)options.Temperature;

        // Numerically stable softmax: subtract the maximum before exponentiating.
        var max = TensorPrimitives.Max(logits);
        TensorPrimitives.Subtract(logits, max, probs);
        if (temperature != 1.0f)
        {
            TensorPrimitives.Multiply(probs, 1.0f / temperature, probs);
        }

        TensorPrimitives.Exp(probs, probs);

        if (!options.IsGreedy && options.TopK > 0 && options.TopK < probs.Length)
        {
            ApplyTopK(probs, options.TopK, scratch);
        }

        Normalize(probs);

        if (!options.IsGreedy && options.TopP < 1.0)
        {
            ApplyTopP(probs, options.TopP, scratch);
            Normalize(probs);
        }
    }

    /// <summary>Index of the largest element (the first one on ties).</summary>
    public static int ArgMax(ReadOnlySpan<float> values) => TensorPrimitives.IndexOfMax(values);

    /// <summary>Draws an index from <paramref name="probs"/> (need not be normalised) by inverse CDF with one uniform draw.</summary>
    public static int Sample(ReadOnlySpan<float> probs, Random random)
    {
        var total = (double)TensorPrimitives.Sum(probs);
        var target = random.NextDouble() * total;
        var cumulative = 0.0;
        var last = -1;
        for (var i = 0; i < probs.Length; i++)
        {
            var p = probs[i];
            if (p <= 0)
            {
                continue;
            }

            cumulative += p;
            last = i;
            if (target < cumulative)
            {
                return i;
            }
        }

        // Rounding can leave target just above the accumulated total: return the last token with mass.
        return last >= 0 ? last : throw new InvalidOperationException("cannot sample from a distribution with no mass");
    }

    /// <summary>Exact acceptance probability α = Σ min(p, q) = 1 − TV(p, q). <paramref name="scratch"/> as long as p.</summary>
    public static double Alpha(ReadOnlySpan<float> p, ReadOnlySpan<float> q, Span<float> scratch)
    {
        TensorPrimitives.Min(p, q, scratch);
        return Math.Clamp(TensorPrimitives.Sum(scratch), 0.0f, 1.0f);
    }

    /// <summary>Total variation distance ½‖p − q‖₁.</summary>
    public static double TotalVariation(ReadOnlySpan<float> p, ReadOnlySpan<float> q, Span<float> scratch)
    {
        TensorPrimitives.Subtract(p, q, scratch);
        return 0.5 * TensorPrimitives.SumOfMagnitudes(scratch);
    }

    /// <summary>
    /// Cross-entropy −Σ p log q and KL(p‖q) = CE − H(p), in nats, with q floored at <see cref="LogFloor"/>.
    /// </summary>
    public static (double CrossEntropy, double Kl) CrossEntropyAndKl(ReadOnlySpan<float> p, ReadOnlySpan<float> q, Span<float> scratch)
    {
        TensorPrimitives.Max(q, LogFloor, scratch);
        TensorPrimitives.Log(scratch, scratch);
        var crossEntropy = -(double)TensorPrimitives.Dot(p, scratch);

        TensorPrimitives.Max(p, LogFloor, scratch);
        TensorPrimitives.Log(scratch, scratch);
        var negEntropy = (double)TensorPrimitives.Dot(p, scratch);

        // KL ≥ 0 mathematically; float rounding can make it a hair negative for identical inputs.
        var kl = Math.Max(0.0, crossEntropy + negEntropy);
        return (Math.Max(crossEntropy, kl), kl);
    }

    /// <summary>Writes the normalised residual norm(max(0, p − q)) into <paramref name="destination"/>; returns false when it has no mass.</summary>
    public static bool Residual(ReadOnlySpan<float> p, ReadOnlySpan<float> q, Span<float> destination)
    {
        TensorPrimitives.Subtract(p, q, destination);
        TensorPrimitives.Max(destination, 0.0f, destination);
        var sum = TensorPrimitives.Sum(destination);
        if (!(sum > 0))
        {
            return false;
        }

        TensorPrimitives.Divide(destination, sum, destination);
        return true;
    }

    private static void Normalize(Span<float> probs)
    {
        var sum = TensorPrimitives.Sum(probs);
        TensorPrimitives.Divide(probs, sum, probs);
    }

    private static void ApplyTopK(Span<float> probs, int k, Span<float> scratch)
    {
        RequireScratch(scratch, probs.Length);
        var sorted = scratch[..probs.Length];
        probs.CopyTo(sorted);
        sorted.Sort();
        var threshold = sorted[^k];

        // Keep exactly k tokens: those strictly above the threshold, then ties in index order.
        var aboveCount = 0;
        foreach (var v in probs)
        {
            if (v > threshold)
            {
                aboveCount++;
            }
        }

        var tiesToKeep = k - aboveCount;
        for (var i = 0; i < probs.Length; i++)
        {
            if (probs[i] > threshold)
            {
                continue;
            }

            if (probs[i] == threshold && tiesToKeep > 0)
            {
                tiesToKeep--;
                continue;
            }

            probs[i] = 0;
        }
    }

    private static void ApplyTopP(Span<float> probs, double topP, Span<float> scratch)
    {
        RequireScratch(scratch, probs.Length);
        var sorted = scratch[..probs.Length];
        probs.CopyTo(sorted);
        sorted.Sort();

        // Walk from the most likely token down until the kept mass reaches topP; everything below the last kept value goes.
        var cumulative = 0.0;
        var threshold = sorted[^1];
        for (var i = sorted.Length - 1; i >= 0; i--)
        {
            cumulative += sorted[i];
            threshold = sorted[i];
            if (cumulative >= topP)
            {
                break;
            }
        }

        for (var i = 0; i < probs.Length; i++)
        {
            if (probs[i] < threshold)
            {
                probs[i] = 0;
            }
        }
    }

    private static void RequireScratch(Span<float> scratch, int length)
    {
        if (scratch.Length < length)
        {
            throw new ArgumentException($"top-k/top-p need a scratch buffer of {length} floats", nameof(scratch));
        }
    }
}
