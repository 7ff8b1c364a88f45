using SpecFunctions.Core.Sampling;

namespace SpecFunctions.Core.Tests;

public class DistributionsTests
{
    private static float[] RandomDistribution(Random random, int n, double zeroFraction = 0)
    {
        var values = new float[n];
        for (var i = 0; i < n; i++)
        {
            values[i] = random.NextDouble() < zeroFraction ? 0 : (float)-Math.Log(1 - random.NextDouble());
        }

        if (values.Sum() == 0)
        {
            values[0] = 1;
        }

        var sum = values.Sum();
        return [.. values.Select(v => v / sum)];
    }

    [Fact]
    public void Alpha_RandomPairs_IsBoundedAndEqualsOneMinusTotalVariation()
    {
        var random = new Random(7);
        var scratch = new float[64];
        for (var trial = 0; trial < 500; trial++)
        {
            var p = RandomDistribution(random, 64, zeroFraction: trial % 3 * 0.3);
            var q = RandomDistribution(random, 64, zeroFraction: trial % 2 * 0.5);
            var alpha = Distributions.Alpha(p, q, scratch);
            var tv = Distributions.TotalVariation(p, q, scratch);
            Assert.InRange(alpha, 0.0, 1.0);
            Assert.Equal(1 - tv, alpha, 1e-5);
        }
    }

    [Fact]
    public void Alpha_IdenticalDistributions_IsOne_AndDisjointIsZero()
    {
        var random = new Random(3);
        var p = RandomDistribution(random, 32);
        var scratch = new float[32];
        Assert.Equal(1.0, Distributions.Alpha(p, p, scratch), 1e-6);

        float[] a = [0.5f, 0.5f, 0, 0];
        float[] b = [0, 0, 0.25f, 0.75f];
        Assert.Equal(0.0, Distributions.Alpha(a, b, new float[4]), 1e-9);
    }

    [Fact]
    public void CrossEntropyAndKl_RandomPairs_KlIsNonNegativeAndAtMostCrossEntropy()
    {
        var random = new Random(11);
        var scratch = new float[50];
        for (var trial = 0; trial < 300; trial++)
        {
            var p = RandomDistribution(random, 50, zeroFraction: 0.2);
            var q = RandomDistribution(random, 50);
            var (ce, kl) = Distributions.CrossEntropyAndKl(p, q, scratch);
            Assert.True(kl >= 0, $"KL {kl} < 0");
            Assert.True(kl <= ce + 1e-9, $"KL {kl} > CE {ce}");

            // Reference in double precision.
            double refCe = 0, refH = 0;
            for (var i = 0; i < 50; i++)
            {
                if (p[i] > 0)
                {
                    refCe -= p[i] * Math.Log(q[i]);
                    refH -= p[i] * Math.Log(p[i]);
                }
            }

            Assert.Equal(refCe, ce, 1e-4);
            Assert.Equal(refCe - refH, kl, 1e-4);
        }
    }

    [Fact]
    public void ToProbabilities_HugeLogits_IsStableAndMatchesShiftedSoftmax()
    {
        float[] logits = [1000f, 1001f, 999f, -1e30f];
        var probs = new float[4];
        Distributions.ToProbabilities(logits, probs, SamplingOptions.Default);
        var e = new[] { Math.Exp(-1), 1.0, Math.Exp(-2) };
        var z = e.Sum();
        Assert.Equal(e[0] / z, probs[0], 1e-6);
        Assert.Equal(e[1] / z, probs[1], 1e-6);
        Assert.Equal(e[2] / z, probs[2], 1e-6);
        Assert.Equal(0f, probs[3]);
    }

    [Theory]
    [InlineData(0.5)]
    [InlineData(2.0)]
    public void ToProbabilities_Temperature_ScalesLogits(double temperature)
    {
        float[] logits = [1f, 2f, 3f];
        var probs = new float[3];
        Distributions.ToProbabilities(logits, probs, new SamplingOptions { Temperature = temperature });
        var e = logits.Select(l => Math.Exp(l / temperature)).ToArray();
        for (var i = 0; i < 3; i++)
        {
            Assert.Equal(e[i] / e.Sum(), probs[i], 1e-6);
        }
    }

    [Fact]
    public void ToProbabilities_TopK_KeepsExactlyTheKLargest()
    {
        float[] logits = [0.1f, 3f, 2f, 2f, -1f, 5f];
        var probs = new float[6];
        Distributions.ToProbabilities(logits, probs, new SamplingOptions { TopK = 3 }, new float[6]);
        Assert.Equal(3, probs.Count(p => p > 0));
        Assert.True(probs[5] > 0 && probs[1] > 0 && probs[2] > 0, "kept the wrong tokens");
        Assert.Equal(1.0, probs.Sum(), 1e-6);
    }

    [Fact]
    public void ToProbabilities_TopP_KeepsSmallestSetReachingP()
    {
        // Softmax of log-probabilities [0.5, 0.3, 0.15, 0.05]: top-p 0.75 keeps the first two (0.8 ≥ 0.75).
        var logits = new[] { 0.5, 0.3, 0.15, 0.05 }.Select(p => (float)Math.Log(p)).ToArray();
        var probs = new float[4];
        Distributions.ToProbabilities(logits, probs, new SamplingOptions { TopP = 0.75 }, new float[4]);
        Assert.Equal(0.5 / 0.8, probs[0], 1e-5);
        Assert.Equal(0.3 / 0.8, probs[1], 1e-5);
        Assert.Equal(0f, probs[2]);
        Assert.Equal(0f, probs[3]);
    }

    [Fact]
    public void Sample_ManyDraws_MatchesDistributionByChiSquare()
    {
        float[] p = [0.1f, 0.2f, 0.3f, 0.4f, 0f];
        var random = new Random(5);
        var counts = new long[5];
        for (var i = 0; i < 40000; i++)
        {
            counts[Distributions.Sample(p, random)]++;
        }

        Assert.Equal(0, counts[4]);
        var (statistic, df) = ChiSquare.Statistic(counts, [.. p.Select(x => (double)x)]);
        Assert.True(statistic < ChiSquare.Critical(df), $"chi2 {statistic:F2} >= {ChiSquare.Critical(df):F2}");
    }

    [Theory]
    [InlineData(-0.1, 0, 1.0)]
    [InlineData(1.0, -1, 1.0)]
    [InlineData(1.0, 0, 0.0)]
    [InlineData(1.0, 0, 1.5)]
    public void SamplingOptions_Invalid_ThrowsNamingTheOption(double temperature, int topK, double topP)
    {
        var options = new SamplingOptions { Temperature = temperature, TopK = topK, TopP = topP };
        Assert.Throws<ArgumentOutOfRangeException>(options.Validate);
    }
}

public class SampleBlockTests
{
    [Fact]
    public void Sample_LargeVocabularyWithSparseMass_MatchesDistributionAndNeverPicksZeros()
    {
        // Mass spread across several 512-wide blocks, with empty blocks between them.
        var p = new float[5000];
        int[] support = [3, 700, 701, 1999, 2600, 4999];
        float[] weights = [0.1f, 0.2f, 0.05f, 0.3f, 0.15f, 0.2f];
        for (var i = 0; i < support.Length; i++)
        {
            p[support[i]] = weights[i];
        }

        var random = new Random(21);
        var counts = new long[support.Length];
        for (var n = 0; n < 30000; n++)
        {
            var index = Array.IndexOf(support, Sample(p, random));
            Assert.True(index >= 0, "sampled a token with zero probability");
            counts[index]++;
        }

        var (statistic, df) = ChiSquare.Statistic(counts, [.. weights.Select(w => (double)w)]);
        Assert.True(statistic < ChiSquare.Critical(df), $"chi2 {statistic:F2}");
    }

    private static int Sample(float[] p, Random random) => SpecFunctions.Core.Sampling.Distributions.Sample(p, random);
}

public class CrossEntropyFromLogitsTests
{
    [Theory]
    [InlineData(1.0)]
    [InlineData(0.6)]
    [InlineData(0.0)]
    public void CrossEntropyAndKl_FromLogits_EqualsLogarithmPath(double temperature)
    {
        var random = new Random(31);
        var options = new SpecFunctions.Core.Sampling.SamplingOptions { Temperature = temperature };
        const int v = 300;
        var pLogits = new float[v];
        var qLogits = new float[v];
        var p = new float[v];
        var q = new float[v];
        var scratch = new float[v];
        for (var trial = 0; trial < 50; trial++)
        {
            for (var i = 0; i < v; i++)
            {
                pLogits[i] = (float)(random.NextDouble() * 8);
                qLogits[i] = pLogits[i] + (float)(random.NextDouble() * 3 - 1.5);
            }

            var pRow = SpecFunctions.Core.Sampling.Distributions.ToProbabilities(pLogits, p, options);
            var qRow = SpecFunctions.Core.Sampling.Distributions.ToProbabilities(qLogits, q, options);
            var fast = SpecFunctions.Core.Sampling.Distributions.CrossEntropyAndKl(p, q, pLogits, pRow, qLogits, qRow, scratch);
            var slow = SpecFunctions.Core.Sampling.Distributions.CrossEntropyAndKl(p, q, scratch);
            Assert.Equal(slow.CrossEntropy, fast.CrossEntropy, 1e-4);
            Assert.Equal(slow.Kl, fast.Kl, 1e-4);
        }
    }

    /// <summary>−Σ p log max(q, 1e-12) and Σ p log(max(p, 1e-12)/max(q, 1e-12)) in double, term by term (0 · anything = 0).</summary>
    private static (double CrossEntropy, double Kl) Naive(float[] p, float[] q)
    {
        double ce = 0, kl = 0;
        for (var i = 0; i < p.Length; i++)
        {
            if (p[i] == 0)
            {
                continue;
            }

            var logQ = Math.Log(Math.Max(q[i], 1e-12));
            ce -= p[i] * logQ;
            kl += p[i] * (Math.Log(Math.Max(p[i], 1e-12)) - logQ);
        }

        return (ce, kl);
    }

    private static (double CrossEntropy, double Kl) FromLogits(float[] pLogits, float[] qLogits, SamplingOptions options, out float[] p, out float[] q)
    {
        p = new float[pLogits.Length];
        q = new float[qLogits.Length];
        var pRow = Distributions.ToProbabilities(pLogits, p, options, new float[p.Length]);
        var qRow = Distributions.ToProbabilities(qLogits, q, options, new float[q.Length]);
        return Distributions.CrossEntropyAndKl(p, q, pLogits, pRow, qLogits, qRow, new float[p.Length]);
    }

    [Fact]
    public void CrossEntropyAndKl_SmallKnownPair_HandComputedValues_AndNotSymmetric()
    {
        float[] p = [0.7f, 0.2f, 0.1f];
        float[] q = [0.5f, 0.3f, 0.2f];

        var (ce, kl) = Distributions.CrossEntropyAndKl(p, q, new float[3]);
        var (swappedCe, swappedKl) = Distributions.CrossEntropyAndKl(q, p, new float[3]);

        // −(0.7 ln 0.5 + 0.2 ln 0.3 + 0.1 ln 0.2) = 0.88694; H(p) = 0.80182; KL = 0.08512 (by hand).
        Assert.Equal(0.88694, ce, 4);
        Assert.Equal(0.08512, kl, 4);
        // With p and q swapped: −(0.5 ln 0.7 + 0.3 ln 0.2 + 0.2 ln 0.1) = 1.12169, KL(q‖p) = 0.09203: a swap is visible.
        Assert.Equal(1.12169, swappedCe, 4);
        Assert.Equal(0.09203, swappedKl, 4);
    }

    [Theory]
    [InlineData(1.0, 0, 1.0)]
    [InlineData(0.7, 0, 1.0)]
    [InlineData(0.0, 0, 1.0)]
    [InlineData(1.0, 5, 1.0)]
    [InlineData(1.0, 0, 0.9)]
    public void CrossEntropyAndKl_MaskedLogits_FiniteAndEqualToTheTermByTermValue(double temperature, int topK, double topP)
    {
        // Real exports mask tokens with −∞ (here a third of the verifier's and a quarter of the drafter's vocabulary).
        var random = new Random(7);
        const int v = 64;
        var pLogits = new float[v];
        var qLogits = new float[v];
        for (var i = 0; i < v; i++)
        {
            pLogits[i] = i % 3 == 0 ? float.NegativeInfinity : (float)(random.NextDouble() * 6);
            qLogits[i] = i % 4 == 1 ? float.NegativeInfinity : (float)(random.NextDouble() * 6);
        }

        var options = new SamplingOptions { Temperature = temperature, TopK = topK, TopP = topP };
        var (ce, kl) = FromLogits(pLogits, qLogits, options, out var p, out var q);
        var expected = Naive(p, q);

        Assert.True(double.IsFinite(ce) && double.IsFinite(kl), $"CE {ce}, KL {kl}");
        Assert.Equal(expected.CrossEntropy, ce, 1e-3);
        Assert.Equal(expected.Kl, kl, 1e-3);
        Assert.Contains(q, x => x == 0);
        Assert.True(ce > 1.0, "q has zero mass where p has mass: the floor must show in the cross-entropy");
    }

    [Fact]
    public void CrossEntropyAndKl_FloorIsTheSameWithAndWithoutFiltering()
    {
        // A drafter with (almost) no mass on the verifier's favourite token: the floor decides the value. The unfiltered
        // path once floored q at 1e-12/Z_q and the filtered one at 1e-12 (D_T 10.36 vs 10.12 for the same rows).
        var pLogits = new float[50];
        var qLogits = new float[50];
        for (var i = 0; i < 50; i++)
        {
            pLogits[i] = i == 0 ? 10 : 0;
            qLogits[i] = i == 0 ? -80 : 1;
        }

        var plain = FromLogits(pLogits, qLogits, new SamplingOptions { Temperature = 1 }, out var p, out var q);
        var filtered = FromLogits(pLogits, qLogits, new SamplingOptions { Temperature = 1, TopK = 49 }, out _, out _);
        var expected = Naive(p, q);

        Assert.Equal(expected.CrossEntropy, plain.CrossEntropy, 1e-3);
        Assert.Equal(filtered.CrossEntropy, plain.CrossEntropy, 1e-2);
        // p(0) ≈ 0.9978 gets log 1e-12 = −27.63: CE ≈ 27.57.
        Assert.InRange(plain.CrossEntropy, 27.4, 27.7);
    }
}
