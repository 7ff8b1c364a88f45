namespace SpecFunctions.Core.Models.Synthetic;

/// <summary>
/// A drafter/verifier pair whose exact acceptance probability at temperature 1 is the chosen α at every prefix:
/// p puts its mass on a context-dependent half A of the vocabulary, q = α·p + (1−α)·r with r on the complement of A,
/// so Σ min(p, q) = α exactly. Each prefix picks one of <c>variants</c> precomputed rows by a hash of
/// (last token, length), so the models cost one row copy per position.
/// </summary>
public static class SyntheticPair
{
    public static (FunctionLanguageModel Drafter, FunctionLanguageModel Verifier) Create(int vocabularySize, double alpha, int seed = 1, int variants = 16)
    {
        if (vocabularySize < 2)
        {
            throw new ArgumentOutOfRangeException(nameof(vocabularySize), vocabularySize, "vocabulary must have at least 2 tokens");
        }

        if (double.IsNaN(alpha) || alpha is < 0 or > 1)
        {
            throw new ArgumentOutOfRangeException(nameof(alpha), alpha, "alpha must be in [0, 1]");
        }

        var random = new Random(seed);
        var pRows = new float[variants][];
        var qRows = new float[variants][];
        var p = new double[vocabularySize];
        var q = new double[vocabularySize];
        var r = new double[vocabularySize];
        var order = Enumerable.Range(0, vocabularySize).ToArray();
        for (var v = 0; v < variants; v++)
        {
            random.Shuffle(order);
            var half = vocabularySize / 2;
            Array.Clear(p);
            Array.Clear(r);

            // Skewed weights (like a real LM's) on A = order[..half], and on the complement for r.
            for (var i = 0; i < vocabularySize; i++)
            {
                var weight = -Math.Log(1 - random.NextDouble()) / (1 + (i % half));
                if (i < half)
                {
                    p[order[i]] = weight;
                }
                else
                {
                    r[order[i]] = weight;
                }
            }

            Normalize(p);
            Normalize(r);
            for (var i = 0; i < vocabularySize; i++)
            {
                q[i] = alpha * p[i] + (1 - alpha) * r[i];
            }

            pRows[v] = FunctionLanguageModel.ToLogits(p);
            qRows[v] = FunctionLanguageModel.ToLogits(q);
        }

        // HashCode.Combine is randomised per process; runs must be reproducible, so mix by hand.
        int Variant(ReadOnlySpan<int> context)
        {
            var z = unchecked(((ulong)(uint)context[^1] << 32 | (uint)context.Length) * 0x9E3779B97F4A7C15UL + (ulong)seed);
            z = unchecked((z ^ (z >> 29)) * 0xBF58476D1CE4E5B9UL);
            return (int)((z ^ (z >> 32)) % (ulong)variants);
        }

        var verifier = new FunctionLanguageModel($"synthetic-verifier(V={vocabularySize})", vocabularySize, (c, d) => pRows[Variant(c)].CopyTo(d));
        var drafter = new FunctionLanguageModel($"synthetic-drafter(V={vocabularySize},alpha={alpha})", vocabularySize, (c, d) => qRows[Variant(c)].CopyTo(d));
        return (drafter, verifier);
    }

    private static void Normalize(double[] values)
    {
        var sum = values.Sum();
        for (var i = 0; i < values.Length; i++)
        {
            values[i] /= sum;
        }
    }
}
