using SpecFunctions.Core.Decoding;
using SpecFunctions.Core.Metrics;
using SpecFunctions.Core.Models.Synthetic;
using SpecFunctions.Core.Sampling;
using SpecFunctions.Core.Tracing;

namespace SpecFunctions.Core.Tests;

public class SpeculativeDecoderTests
{
    public static TheoryData<string, double[], double[]> FixedPairs => new()
    {
        // Drafter puts most of its mass where the verifier has none.
        { "drafter-mass-where-verifier-has-none", [0.5, 0.3, 0.2, 0.0, 0.0], [0.05, 0.05, 0.1, 0.4, 0.4] },
        // Near-identical pair: almost every draft is accepted.
        { "near-identical", [0.4, 0.3, 0.2, 0.1, 0.0], [0.41, 0.29, 0.2, 0.1, 0.0] },
        // Uniform drafter against a peaked verifier.
        { "uniform-drafter", [0.7, 0.1, 0.1, 0.05, 0.05], [0.2, 0.2, 0.2, 0.2, 0.2] },
        // Drafter misses a token the verifier needs (residual must produce it).
        { "drafter-misses-token", [0.25, 0.25, 0.25, 0.25, 0.0], [0.5, 0.5, 0.0, 0.0, 0.0] },
    };

    [Theory]
    [MemberData(nameof(FixedPairs))]
    public void Generate_FixedPairs_EmittedTokensAreDistributedAsVerifier(string name, double[] p, double[] q)
    {
        var verifier = FunctionLanguageModel.Fixed("p", p);
        var drafter = FunctionLanguageModel.Fixed("q", q);
        var options = new DecodingOptions { Gamma = 3, MaxNewTokens = 30000, Seed = 42 };
        var result = new SpeculativeDecoder(drafter, verifier, options).Generate([0]);

        var counts = new long[p.Length];
        foreach (var token in result.Tokens)
        {
            counts[token]++;
        }

        for (var i = 0; i < p.Length; i++)
        {
            if (p[i] == 0)
            {
                Assert.True(counts[i] == 0, $"{name}: token {i} has p = 0 but was emitted {counts[i]} times");
            }
        }

        // Significance 0.001 with a fixed seed: the test is deterministic; a lossy engine fails it by a wide margin.
        var (statistic, df) = ChiSquare.Statistic(counts, p);
        Assert.True(statistic < ChiSquare.Critical(df), $"{name}: chi2 {statistic:F2} >= critical {ChiSquare.Critical(df):F2} (df {df})");
    }

    [Fact]
    public void Generate_MarkovPair_JointOfThreeTokensIsDistributedAsVerifier()
    {
        // Context-dependent distributions check acceptance across draft positions and step boundaries.
        double[][] pT = [[0.6, 0.3, 0.1], [0.1, 0.1, 0.8], [0.3, 0.4, 0.3]];
        double[][] qT = [[0.2, 0.2, 0.6], [0.5, 0.4, 0.1], [0.3, 0.4, 0.3]];
        var verifier = FunctionLanguageModel.Markov("p", pT);
        var drafter = FunctionLanguageModel.Markov("q", qT);
        var decoder = new SpeculativeDecoder(drafter, verifier, new DecodingOptions { Gamma = 2, MaxNewTokens = 3, Seed = 9 });

        var counts = new long[27];
        const int sequences = 20000;
        for (var i = 0; i < sequences; i++)
        {
            var tokens = decoder.Generate([0], promptIndex: i).Tokens;
            Assert.Equal(3, tokens.Length);
            counts[(tokens[0] * 9) + (tokens[1] * 3) + tokens[2]]++;
        }

        var expected = new double[27];
        for (var a = 0; a < 3; a++)
        {
            for (var b = 0; b < 3; b++)
            {
                for (var c = 0; c < 3; c++)
                {
                    expected[(a * 9) + (b * 3) + c] = pT[0][a] * pT[a][b] * pT[b][c];
                }
            }
        }

        var (statistic, df) = ChiSquare.Statistic(counts, expected);
        Assert.True(statistic < ChiSquare.Critical(df), $"chi2 {statistic:F2} >= critical {ChiSquare.Critical(df):F2} (df {df})");
    }

    [Theory]
    [InlineData(0.3, 2, true)]
    [InlineData(0.7, 5, true)]
    [InlineData(0.95, 8, true)]
    [InlineData(0.3, 2, false)] // without statistics greedy decoding turns no row into probabilities: argmaxes only
    [InlineData(0.95, 8, false)]
    public void Generate_Greedy_EqualsVerifierGreedyDecode(double alpha, int gamma, bool statistics)
    {
        var (drafter, verifier) = SyntheticPair.Create(257, alpha, seed: 4);
        var options = new DecodingOptions { Gamma = gamma, MaxNewTokens = 400, Sampling = SamplingOptions.Greedy, ComputeStatistics = statistics };
        var speculative = new SpeculativeDecoder(drafter, verifier, options).Generate([1, 2, 3]);
        var reference = new AutoregressiveDecoder(verifier, options).Generate([1, 2, 3]);
        Assert.Equal(reference.Tokens, speculative.Tokens);
    }

    [Fact]
    public void Generate_GreedyWithWholePrefixDependence_EqualsVerifierGreedyDecode()
    {
        // Logits depend on the whole prefix, so any rewind mistake changes the output.
        static void Logits(ReadOnlySpan<int> context, Span<float> destination, int salt)
        {
            var h = (ulong)salt;
            foreach (var t in context)
            {
                h = unchecked((h ^ (ulong)t) * 0x100000001B3UL);
            }

            for (var i = 0; i < destination.Length; i++)
            {
                h = unchecked((h ^ (ulong)i) * 0x9E3779B97F4A7C15UL);
                destination[i] = (h >> 40) / (float)(1 << 24) * 4;
            }
        }

        var verifier = new FunctionLanguageModel("v", 16, (c, d) => Logits(c, d, 1));
        var drafter = new FunctionLanguageModel("d", 16, (c, d) =>
        {
            Logits(c, d, 1);
            d[c.Length % 16] += 1.5f; // a drafter that agrees only sometimes
        });
        var options = new DecodingOptions { Gamma = 4, MaxNewTokens = 300, Sampling = SamplingOptions.Greedy };
        var sink = new ListTraceSink();
        var speculative = new SpeculativeDecoder(drafter, verifier, options).Generate([3, 1], sink);
        var reference = new AutoregressiveDecoder(verifier, options).Generate([3, 1]);
        Assert.Equal(reference.Tokens, speculative.Tokens);
        var steps = sink.Steps.ToList();
        Assert.Contains(steps, s => s.Accepted == 0);
        Assert.Contains(steps, s => s.Accepted == s.Gamma);
    }

    /// <summary>softmax(log p / T), then top-k, then top-p (method.md §1), in double, independently of the engine.</summary>
    private static double[] Transform(double[] p, double temperature, int topK, double topP)
    {
        var x = p.Select(v => Math.Pow(v, 1 / temperature)).ToArray();
        var order = Enumerable.Range(0, x.Length).OrderByDescending(i => x[i]).ThenBy(i => i).ToArray();
        if (topK > 0)
        {
            foreach (var i in order.Skip(topK))
            {
                x[i] = 0;
            }
        }

        var sum = x.Sum();
        x = x.Select(v => v / sum).ToArray();
        if (topP < 1)
        {
            var kept = 0.0;
            foreach (var i in order)
            {
                if (kept >= topP)
                {
                    x[i] = 0;
                }

                kept += x[i];
            }

            sum = x.Sum();
            x = x.Select(v => v / sum).ToArray();
        }

        return x;
    }

    [Theory]
    [InlineData(1.0, 0, 1.0)]
    [InlineData(0.5, 0, 1.0)]
    [InlineData(1.0, 3, 1.0)]
    [InlineData(0.7, 0, 0.8)]
    public void Generate_FixedPair_TraceStatisticsEqualHandComputedValuesOfTheSampledDistributions(double temperature, int topK, double topP)
    {
        // Context-free models: every drafted prefix has the same p and q, so α_T, D_T and KL_T are known exactly. They are
        // computed on the distributions actually sampled from (after temperature, top-k, top-p) and are not symmetric in p, q.
        double[] p = [0.55, 0.25, 0.1, 0.06, 0.04];
        double[] q = [0.2, 0.3, 0.3, 0.12, 0.08];
        var verifier = FunctionLanguageModel.Fixed("v", p);
        var drafter = FunctionLanguageModel.Fixed("d", q);
        var sampling = new SamplingOptions { Temperature = temperature, TopK = topK, TopP = topP };
        var stats = new TaskStatisticsBuilder(3);
        new SpeculativeDecoder(drafter, verifier, new DecodingOptions { Gamma = 3, MaxNewTokens = 60, Seed = 5, Sampling = sampling }).Generate([0], stats);
        var prompt = stats.Build().Single();

        var pt = Transform(p, temperature, topK, topP);
        var qt = Transform(q, temperature, topK, topP);
        var alpha = pt.Zip(qt, Math.Min).Sum();
        var crossEntropy = -pt.Zip(qt, (a, b) => a == 0 ? 0 : a * Math.Log(Math.Max(b, 1e-12))).Sum();
        var kl = pt.Zip(qt, (a, b) => a == 0 ? 0 : a * (Math.Log(a) - Math.Log(Math.Max(b, 1e-12)))).Sum();
        Assert.Equal(alpha, prompt.AlphaSum / prompt.Positions, 5);
        Assert.Equal(crossEntropy, prompt.CrossEntropySum / prompt.Positions, 4);
        Assert.Equal(kl, prompt.KlSum / prompt.Positions, 4);
    }

    [Theory]
    [InlineData(0.8, 4)]
    [InlineData(0.5, 3)]
    [InlineData(0.95, 8)]
    [InlineData(0.2, 2)]
    public void Generate_ConstantAcceptance_MeanTokensPerStepConvergesToF(double alpha, int gamma)
    {
        var (drafter, verifier) = SyntheticPair.Create(512, alpha, seed: 2);
        var stats = new TaskStatisticsBuilder(gamma);
        var options = new DecodingOptions { Gamma = gamma, MaxNewTokens = int.MaxValue, MaxSteps = 20000, Seed = 3, RecordTokens = false };
        var result = new SpeculativeDecoder(drafter, verifier, options).Generate([0], stats);
        var prompt = stats.Build().Single();

        // Tokens per step is bounded by γ+1, so its standard error over 20 000 steps is below (γ+1)/2/√20000 ≈ 0.35 % of γ+1;
        // a 2 % tolerance is more than 4 standard errors for every case here.
        var measured = (double)prompt.Emitted / prompt.Steps;
        var expected = SpeculativeMath.ExpectedTokensPerStep(alpha, gamma);
        Assert.Equal(20000, result.Steps);
        Assert.InRange(measured, expected * 0.98, expected * 1.02);
        Assert.Equal(alpha, prompt.AlphaSum / prompt.Positions, 1e-5); // exact α(s) is α at every prefix
    }

    [Fact]
    public void Analyze_ConstantAcceptance_RateByPositionIsAlpha_AcceptedPastPositionIsAlphaToTheDepth()
    {
        // Every draft is accepted with probability 0.7 whatever its depth: the conditional rate is 0.7 at each position and
        // P(accepted length > i) = 0.7^(i+1). 20 000 steps: the standard error at the deepest position (about 4 800
        // steps reach it) is below 0.007; tolerance 0.025.
        const double alpha = 0.7;
        const int gamma = 4;
        var (drafter, verifier) = SyntheticPair.Create(512, alpha, seed: 4);
        var stats = new TaskStatisticsBuilder(gamma);
        new SpeculativeDecoder(drafter, verifier, new DecodingOptions { Gamma = gamma, MaxNewTokens = int.MaxValue, MaxSteps = 20000, Seed = 9, RecordTokens = false })
            .Generate([0], stats);
        var task = SuiteAnalyzer.Analyze([("t", stats.Build())], gamma, new SuiteAnalysisOptions { CostRatio = 0.1 }).Tasks[0];

        for (var i = 0; i < gamma; i++)
        {
            Assert.InRange(task.AcceptanceRateByPosition[i], alpha - 0.025, alpha + 0.025);
            Assert.InRange(task.AcceptedPastPosition[i], Math.Pow(alpha, i + 1) - 0.025, Math.Pow(alpha, i + 1) + 0.025);
        }
    }

    [Fact]
    public void Generate_GammaLargerThanBudget_EmitsExactlyTheBudget()
    {
        var (drafter, verifier) = SyntheticPair.Create(64, 1.0, seed: 1);
        var sink = new ListTraceSink();
        var result = new SpeculativeDecoder(drafter, verifier, new DecodingOptions { Gamma = 8, MaxNewTokens = 3 }).Generate([5], sink);
        Assert.Equal(3, result.Tokens.Length);
        Assert.Equal(StopReason.MaxNewTokens, result.StopReason);
        var step = Assert.Single(sink.Steps);
        Assert.Equal(2, step.Gamma); // 2 drafts + bonus = the budget of 3
        Assert.True(step.Bonus);
    }

    [Fact]
    public void Generate_StopTokenInsideAcceptedDraft_EndsAfterTheStopToken()
    {
        // Both models deterministically count upward: 1, 2, 3, ... so token 4 appears inside the first accepted draft.
        var count = FunctionLanguageModel.Markov("count", [.. Enumerable.Range(0, 10).Select(i => Enumerable.Range(0, 10).Select(j => j == (i + 1) % 10 ? 1.0 : 0.0).ToArray())]);
        var sink = new ListTraceSink();
        var result = new SpeculativeDecoder(count, count, new DecodingOptions { Gamma = 6, MaxNewTokens = 50, StopTokens = [4] }).Generate([0], sink);
        Assert.Equal([1, 2, 3, 4], result.Tokens);
        Assert.Equal(StopReason.StopToken, result.StopReason);
        var step = Assert.Single(sink.Steps);
        Assert.Equal(6, step.Accepted);
        Assert.Equal(4, step.Emitted);
    }

    [Fact]
    public void Generate_VocabularyOfTwo_IsLossless()
    {
        var verifier = FunctionLanguageModel.Fixed("p", [0.3, 0.7]);
        var drafter = FunctionLanguageModel.Fixed("q", [0.9, 0.1]);
        var result = new SpeculativeDecoder(drafter, verifier, new DecodingOptions { Gamma = 4, MaxNewTokens = 20000, Seed = 8 }).Generate([1]);
        var ones = result.Tokens.Count(t => t == 1);

        // Binomial(20000, 0.7): sd ≈ 64.8; ±4 sd.
        Assert.InRange(ones, 14000 - 260, 14000 + 260);
    }

    [Fact]
    public void Generate_DrafterIdenticalToVerifier_AcceptsEveryDraftWithAlphaOne()
    {
        var (_, verifier) = SyntheticPair.Create(100, 0.5, seed: 6);
        var sink = new ListTraceSink();
        var result = new SpeculativeDecoder(verifier, verifier, new DecodingOptions { Gamma = 4, MaxNewTokens = 500 }).Generate([1], sink);
        Assert.Equal(result.DraftedTokens, result.AcceptedTokens);
        Assert.All(sink.Steps, s =>
        {
            Assert.True(s.Bonus);
            Assert.All(s.Alpha, a => Assert.Equal(1.0, a, 1e-5));
            Assert.All(s.Kl, k => Assert.Equal(0.0, k, 1e-5));
        });
        Assert.Equal(100, result.Steps); // 500 tokens / 5 per step
    }

    [Fact]
    public void Generate_FullyAcceptedDrafts_CallsDrafterGammaTimesPerStep()
    {
        var (drafter, verifier) = SyntheticPair.Create(50, 1.0, seed: 2);
        var result = new SpeculativeDecoder(drafter, verifier, new DecodingOptions { Gamma = 4, MaxNewTokens = 100 }).Generate([1, 2, 3]);

        // After a full accept the drafter catches up on two tokens in one call, so it never needs a γ+1-th call.
        Assert.Equal(20, result.Steps);
        Assert.Equal(result.Steps * 4, drafter.Calls);
        Assert.Equal(result.Steps, verifier.Calls);
        Assert.Equal(result.Steps * 5, verifier.Rows);
    }

    [Fact]
    public void Generate_SameSeed_IsReproducibleAndOtherSeedDiffers()
    {
        var (drafter, verifier) = SyntheticPair.Create(300, 0.6, seed: 5);
        DecodingOptions Options(long seed) => new() { Gamma = 4, MaxNewTokens = 200, Seed = seed };
        var a = new SpeculativeDecoder(drafter, verifier, Options(1)).Generate([7]);
        var b = new SpeculativeDecoder(drafter, verifier, Options(1)).Generate([7]);
        var c = new SpeculativeDecoder(drafter, verifier, Options(2)).Generate([7]);
        Assert.Equal(a.Tokens, b.Tokens);
        Assert.NotEqual(a.Tokens, c.Tokens);
    }

    [Fact]
    public void Generate_Cancelled_Throws()
    {
        var (drafter, verifier) = SyntheticPair.Create(20, 0.5);
        using var cts = new CancellationTokenSource();
        cts.Cancel();
        Assert.ThrowsAny<OperationCanceledException>(() =>
            new SpeculativeDecoder(drafter, verifier, new DecodingOptions()).Generate([1], cancellationToken: cts.Token));
    }

    [Fact]
    public void Constructor_VocabularyMismatch_ThrowsNamingBothModels()
    {
        var a = FunctionLanguageModel.Fixed("small", [0.5, 0.5]);
        var b = FunctionLanguageModel.Fixed("large", [0.2, 0.3, 0.5]);
        var error = Assert.Throws<ArgumentException>(() => new SpeculativeDecoder(a, b, new DecodingOptions()));
        Assert.Contains("small", error.Message);
        Assert.Contains("large", error.Message);
    }

    [Theory]
    [InlineData(0, 10)]
    [InlineData(65, 10)]
    [InlineData(4, 0)]
    public void Options_OutOfRange_Throw(int gamma, int maxNewTokens)
    {
        Assert.Throws<ArgumentOutOfRangeException>(() => new DecodingOptions { Gamma = gamma, MaxNewTokens = maxNewTokens }.Validate());
    }

    [Fact]
    public void Generate_ContextLimit_StopsWithContextLength()
    {
        var verifier = new FunctionLanguageModel("v", 4, (_, d) => d.Fill(0), contextLength: 10);
        var result = new SpeculativeDecoder(verifier, verifier, new DecodingOptions { Gamma = 4, MaxNewTokens = 100 }).Generate([1, 2, 3]);
        Assert.Equal(7, result.Tokens.Length);
        Assert.Equal(StopReason.ContextLength, result.StopReason);
    }
}
