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
    /// Returns what <see cref="CrossEntropyAndKl(ReadOnlySpan{float}, ReadOnlySpan{float}, ReadOnlySpan{float}, in Row, ReadOnlySpan{float}, in Row, Span{float})"/>
    /// needs to use the logits instead of taking logarithms.
    /// </summary>
    public static Row ToProbabilities(ReadOnlySpan<float> logits, Span<float> probs, SamplingOptions options, Span<float> scratch = default)
    {
        var inverseTemperature = options.IsGreedy ? 1.0f : (float)(1.0 / options.Temperature);

        // Numerically stable softmax: (x − max)/T ≤ 0 before exponentiating; shift, scale, exp and sum in one pass.
        var max = TensorPrimitives.Max(logits);
        var sum = FastExp.ExpShiftedSum(logits, max, inverseTemperature, probs);

        var filtered = false;
        if (!options.IsGreedy && options.TopK > 0 && options.TopK < probs.Length)
        {
            ApplyTopK(probs, options.TopK, scratch);
            sum = TensorPrimitives.Sum(probs);
            filtered = true;
        }

        TensorPrimitives.Multiply(probs, 1.0f / sum, probs);

        if (!options.IsGreedy && options.TopP < 1.0)
        {
            ApplyTopP(probs, options.TopP, scratch);
            Normalize(probs);
            filtered = true;
        }

        return new Row(max, inverseTemperature, Math.Log(sum), filtered);
    }

    /// <summary>
    /// How a probability row was made from its logits: log p(x) = (x − Max)·InverseTemperature − LogNormalizer for every
    /// token, unless <see cref="Filtered"/> (top-k/top-p zeroed some tokens and renormalised the rest).
    /// </summary>
    public readonly record struct Row(float Max, float InverseTemperature, double LogNormalizer, bool Filtered);

    /// <summary>
    /// Cross-entropy and KL from the logits rows, so no logarithm is taken per token: log q(x) = (x_q − Max_q)/T − LogZ_q,
    /// so −Σ p log max(q, <see cref="LogFloor"/>) = LogZ_q + (Max_q − Σ p·x̃_q)/T with x_q raised to the logit at which
    /// q = <see cref="LogFloor"/>; H(p) likewise with p's own floor, so a token masked with −∞ (p = 0) contributes 0, never
    /// 0·∞ = NaN. The same values as the probability form
    /// <see cref="CrossEntropyAndKl(ReadOnlySpan{float}, ReadOnlySpan{float}, Span{float})"/>, which filtered rows use.
    /// </summary>
    public static (double CrossEntropy, double Kl) CrossEntropyAndKl(
        ReadOnlySpan<float> p, ReadOnlySpan<float> q, ReadOnlySpan<float> pLogits, in Row pRow, ReadOnlySpan<float> qLogits, in Row qRow, Span<float> scratch)
    {
        if (pRow.Filtered || qRow.Filtered)
        {
            return CrossEntropyAndKl(p, q, scratch);
        }

        TensorPrimitives.Max(qLogits, FloorLogit(qRow), scratch);
        var crossEntropy = qRow.LogNormalizer + (qRow.InverseTemperature * ((double)qRow.Max - TensorPrimitives.Dot(p, scratch)));
        TensorPrimitives.Max(pLogits, FloorLogit(pRow), scratch);
        var entropy = pRow.LogNormalizer + (pRow.InverseTemperature * ((double)pRow.Max - TensorPrimitives.Dot(p, scratch)));

        // KL ≥ 0 mathematically; float rounding can make it a hair negative for identical inputs.
        var kl = Math.Max(0.0, crossEntropy - entropy);
        return (Math.Max(crossEntropy, kl), kl);
    }

    private const double LogFloorNats = -27.631021115928547; // ln(1e-12)

    /// <summary>The logit at which the row's probability is <see cref="LogFloor"/>: (x − Max)/T − LogZ = ln 1e-12.</summary>
    private static float FloorLogit(in Row row) => (float)(row.Max + ((LogFloorNats + row.LogNormalizer) / row.InverseTemperature));

    /// <summary>Index of the largest element (the first one on ties).</summary>
    public static int ArgMax(ReadOnlySpan<float> values) => TensorPrimitives.IndexOfMax(values);

    /// <summary>Draws an index from <paramref name="probs"/> (need not be normalised) by inverse CDF with one uniform draw.</summary>
    /// <remarks>
    /// The CDF is walked in vectorised blocks of <see cref="SampleBlock"/> and only the block holding the target is
    /// scanned element by element: a 32k vocabulary costs 250 block sums instead of 32k scalar additions.
    /// </remarks>
    public static int Sample(ReadOnlySpan<float> probs, Random random)
    {
        var total = (double)TensorPrimitives.Sum(probs);
        var target = random.NextDouble() * total;
        var cumulative = 0.0;
        var lastWithMass = -1;
        for (var start = 0; start < probs.Length; start += SampleBlock)
        {
            var block = probs.Slice(start, Math.Min(SampleBlock, probs.Length - start));
            var blockSum = (double)TensorPrimitives.Sum(block);
            if (blockSum <= 0)
            {
                continue;
            }

            if (target < cumulative + blockSum)
            {
                for (var i = 0; i < block.Length; i++)
                {
                    if (block[i] <= 0)
                    {
                        continue;
                    }

                    cumulative += block[i];
                    lastWithMass = start + i;
                    if (target < cumulative)
                    {
                        return start + i;
                    }
                }

                // Block sum and element-wise sum differ in rounding: the target fell past the last element of this block.
                return lastWithMass;
            }

            cumulative += blockSum;
            var lastIndex = block.Length - 1;
            while (lastIndex >= 0 && block[lastIndex] <= 0)
            {
                lastIndex--;
            }

            lastWithMass = start + lastIndex;
        }

        // Rounding can leave target just above the accumulated total: return the last token with mass.
        return lastWithMass >= 0 ? lastWithMass : throw new InvalidOperationException("cannot sample from a distribution with no mass");
    }

    private const int SampleBlock = 128;

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
