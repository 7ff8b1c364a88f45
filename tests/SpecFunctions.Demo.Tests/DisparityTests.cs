using SpecFunctions.Demo;
using Xunit.Abstractions;

namespace SpecFunctions.Demo.Tests;

/// <summary>
/// The point of the demo pair: the drafter, distilled from the verifier on 98 % English and Spanish, agrees with it
/// much better on those languages than on the thin ones. Deterministic (seed 1), so the gaps are fixed numbers; each
/// threshold is about half the measured gap, so a drafter that serves all languages alike fails.
/// </summary>
[Collection(DemoModelsCollection.Name)]
public sealed class DisparityTests(DemoModelsFixture fixture, ITestOutputHelper output)
{
    private static readonly string[] Main = ["en", "es"];

    [Fact]
    public void HeldOutPrompts_MainLanguages_HigherAlphaThanThinOnes()
    {
        var corpus = DemoCorpus.Default;
        var thin = corpus.Languages.Select(l => l.Id).Except(Main).ToArray();
        var agreement = corpus.Languages.ToDictionary(l => l.Id, l => Compare(l.HeldOutPrompts));
        foreach (var (id, a) in agreement)
        {
            output.WriteLine($"{id}: alpha {a.MeanAlpha:F3}  D_T {a.MeanCrossEntropy:F3}  KL {a.MeanKl:F3}  ({a.Prefixes} prefixes)");
        }

        var gap = Main.Average(id => agreement[id].MeanAlpha) - thin.Average(id => agreement[id].MeanAlpha);
        var klGap = thin.Average(id => agreement[id].MeanKl) - Main.Average(id => agreement[id].MeanKl);
        output.WriteLine($"alpha gap {gap:F3}, KL gap {klGap:F3}");

        // Measured with seed 1: alpha gap 0.186 (0.767 vs 0.581), KL gap 0.63 nats.
        Assert.True(gap >= 0.09, $"Mean alpha on main languages exceeds thin ones by only {gap:F3}.");
        Assert.True(klGap >= 0.3, $"Mean KL on thin languages exceeds main ones by only {klGap:F3}.");
        Assert.All(thin, id => Assert.True(agreement[id].MeanAlpha < Main.Min(m => agreement[m].MeanAlpha) + 0.02, id));
    }

    [Fact]
    public void HeldOutPrompts_MainLanguages_HigherAlphaThanOtherScriptsPromptByPrompt()
    {
        // The MGSM check below on the project's own held-out prompts, against the languages in other scripts. Per
        // prompt, so the spread between prompts gives each language's standard error (prompts are the unit that varies).
        string[] thin = ["ru", "zh"];
        var perPrompt = Main.Concat(thin).ToDictionary(id => id, id => DemoCorpus.Default[id].HeldOutPrompts.Select(p => Compare([p])).ToArray());
        var alpha = perPrompt.ToDictionary(e => e.Key, e => (Mean: e.Value.Average(a => a.MeanAlpha), Error: StandardError(e.Value.Select(a => a.MeanAlpha))));
        var kl = perPrompt.ToDictionary(e => e.Key, e => e.Value.Average(a => a.MeanKl));
        foreach (var id in perPrompt.Keys)
        {
            output.WriteLine($"{id}: alpha {alpha[id].Mean:F3} ± {alpha[id].Error:F3} over {perPrompt[id].Length} prompts, KL {kl[id]:F3}");
        }

        var gap = Main.Average(id => alpha[id].Mean) - thin.Average(id => alpha[id].Mean);
        var klRatio = thin.Average(id => kl[id]) / Main.Average(id => kl[id]);
        output.WriteLine($"alpha gap {gap:F3}, KL ratio thin/main {klRatio:F3}");

        // Measured with seed 1: en 0.779 ± 0.003, es 0.755 ± 0.002, ru 0.610 ± 0.005, zh 0.262 ± 0.003, so an alpha gap
        // of 0.331 and a KL ratio of 6.9; the closest pair (es over ru) is 0.145, about 27 standard errors of the
        // difference. Each threshold is about half the measured value; four standard errors rules out prompt noise.
        Assert.True(gap >= 0.16, $"Mean alpha on en/es exceeds ru/zh by only {gap:F3}.");
        Assert.True(klRatio >= 3.4, $"Mean KL on ru/zh is only {klRatio:F3} times that on en/es.");
        foreach (var (m, t) in Main.SelectMany(m => thin.Select(t => (m, t))))
        {
            var difference = alpha[m].Mean - alpha[t].Mean;
            var error = Math.Sqrt(alpha[m].Error * alpha[m].Error + alpha[t].Error * alpha[t].Error);
            Assert.True(difference >= 0.07 && difference >= 4 * error, $"{m} over {t}: alpha difference {difference:F3} (standard error {error:F3}).");
        }
    }

    [Fact]
    [Trait("Requires", "mgsm")]
    public void MgsmPrompts_MainLanguages_HigherAlphaThanThinOnes()
    {
        var folder = TestConfigs.MgsmFolder;
        var agreement = new Dictionary<string, DemoAgreement>();
        foreach (var id in new[] { "en", "es", "fr", "de" })
        {
            var prompts = File.ReadLines(Path.Combine(folder, $"mgsm_{id}.tsv")).Take(30).Select(line => line.Split('\t')[0]).ToArray();
            agreement[id] = Compare(prompts);
            output.WriteLine($"mgsm {id}: alpha {agreement[id].MeanAlpha:F3}  D_T {agreement[id].MeanCrossEntropy:F3}  KL {agreement[id].MeanKl:F3}");
        }

        string[] thin = ["fr", "de"];
        var gap = Main.Average(id => agreement[id].MeanAlpha) - thin.Average(id => agreement[id].MeanAlpha);
        var klRatio = thin.Average(id => agreement[id].MeanKl) / Main.Average(id => agreement[id].MeanKl);
        output.WriteLine($"alpha gap {gap:F3}, KL ratio thin/main {klRatio:F3}");

        // Measured with seed 1: alpha gap 0.024 (0.755 vs 0.731) and KL ratio 1.19. The gap is small because French
        // and German share script and much byte-level structure with the main languages, but it is about six standard
        // errors of a per-language mean over ~6000 prefixes (per-prefix alpha SD ≈ 0.3), so half of it is a real margin.
        Assert.True(gap >= 0.012, $"Mean alpha on MGSM en/es exceeds fr/de by only {gap:F3}.");
        Assert.True(klRatio >= 1.08, $"Mean KL on MGSM fr/de is only {klRatio:F3} times that on en/es.");
    }

    [Fact]
    public void HeldOutPrompts_ThinLanguages_VerifierPredictsRealTextBetterThanDrafter()
    {
        // Measured with seed 1 (nats/byte, verifier vs drafter): fr 2.35/2.47, de 2.50/2.62, ru 1.55/2.07, zh 2.90/4.17.
        var advantages = new List<double>();
        foreach (var id in new[] { "fr", "de", "ru", "zh" })
        {
            var (verifier, drafter) = TextCrossEntropies(id);
            advantages.Add(drafter - verifier);
            Assert.True(verifier < drafter - 0.05, $"{id}: verifier {verifier:F3} vs drafter {drafter:F3}");
        }

        Assert.True(advantages.Average() > 0.25, $"Mean verifier advantage on thin languages {advantages.Average():F3}");
    }

    [Fact]
    public void HeldOutPrompts_MainLanguages_DrafterCloseToVerifier()
    {
        // Measured with seed 1: en 2.49/2.39, es 2.39/2.39 (the distilled drafter matches its teacher there).
        foreach (var id in Main)
        {
            var (verifier, drafter) = TextCrossEntropies(id);
            Assert.True(drafter < verifier + 0.1, $"{id}: verifier {verifier:F3} vs drafter {drafter:F3}");
        }
    }

    private (double Verifier, double Drafter) TextCrossEntropies(string id)
    {
        var prompts = DemoCorpus.Default[id].HeldOutPrompts;
        var verifier = TextCrossEntropy(new DemoModel(fixture.Verifier), prompts);
        var drafter = TextCrossEntropy(new DemoModel(fixture.Drafter), prompts);
        output.WriteLine($"{id}: held-out cross-entropy verifier {verifier:F3}, drafter {drafter:F3} nats/byte");
        return (verifier, drafter);
    }

    /// <summary>Standard error of the mean of <paramref name="values"/> (sample standard deviation / √n).</summary>
    private static double StandardError(IEnumerable<double> values)
    {
        var x = values.ToArray();
        var mean = x.Average();
        return Math.Sqrt(x.Sum(v => (v - mean) * (v - mean)) / (x.Length - 1) / x.Length);
    }

    private DemoAgreement Compare(IEnumerable<string> prompts) =>
        DemoEvaluation.Compare(new DemoModel(fixture.Verifier), new DemoModel(fixture.Drafter), prompts);

    /// <summary>Mean −log q(next byte) over the prompts' bytes (nats per byte).</summary>
    private static double TextCrossEntropy(DemoModel model, IEnumerable<string> prompts)
    {
        double total = 0;
        var count = 0;
        var logProbabilities = new double[256];
        foreach (var prompt in prompts)
        {
            var bytes = System.Text.Encoding.UTF8.GetBytes(prompt);
            var logits = model.ForwardAll(bytes);
            for (var t = 0; t + 1 < bytes.Length; t++)
            {
                DemoEvaluation.LogSoftmax(logits.AsSpan(t * 256, 256), 1.0, logProbabilities);
                total -= logProbabilities[bytes[t + 1]];
                count++;
            }
        }

        return total / count;
    }
}
