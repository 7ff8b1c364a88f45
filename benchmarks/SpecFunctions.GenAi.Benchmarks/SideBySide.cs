using System.Diagnostics;
using SpecFunctions.Core.Decoding;
using SpecFunctions.Core.Metrics;
using SpecFunctions.Core.Sampling;
using SpecFunctions.Core.Storage;
using SpecFunctions.Core.Tracing;
using SpecFunctions.Onnx;
using SpecFunctions.Orchestration;
using Microsoft.ML.OnnxRuntimeGenAI;
using GenAiModel = Microsoft.ML.OnnxRuntimeGenAI.Model;

namespace SpecFunctions.GenAi.Benchmarks;

/// <summary>What to measure: the draft length, prompts, token budget, repeats and threads of one side-by-side run.</summary>
internal sealed record SideBySideSettings
{
    /// <summary>Draft length γ of the fixed-width arms (GenAI's <c>max_draft_tokens</c>). Default 4, the product's.</summary>
    public int Gamma { get; init; } = 4;

    /// <summary>Prompts per language (the held-out prompts, in order). Default 20.</summary>
    public int Prompts { get; init; } = 20;

    /// <summary>Token budget per prompt. Default 64.</summary>
    public int MaxNewTokens { get; init; } = 64;

    /// <summary>
    /// Generate exactly <see cref="MaxNewTokens"/> per prompt in every arm (the product's <c>ignoreEos</c>), so that every
    /// prompt does the same work; else the verifier's end-of-sequence token ends a generation (GenAI then leaves the
    /// token out of its sequence, our engine emits it: the agreement check allows for that). Default true.
    /// </summary>
    public bool IgnoreEos { get; init; } = true;

    /// <summary>Timed repeats per prompt and arm; each arm keeps its fastest (method.md §5). Default 3.</summary>
    public int Repeats { get; init; } = 3;

    /// <summary>
    /// ONNX Runtime intra-op threads of every session in both runtimes; 0 (default) = the product's default
    /// (<see cref="OnnxModelOptions.DefaultIntraOpThreads"/>, which is GenAI's), given to both explicitly.
    /// </summary>
    public int Threads { get; init; }

    /// <summary>
    /// A <c>tokenizer.json</c> both models use instead of their folders' own (<see cref="OnnxModelOptions.TokenizerFile"/>),
    /// for an export whose tokenizer does not match its graph; null (default) = each folder's own. GenAI is fed token ids,
    /// so only our side tokenizes.
    /// </summary>
    public string? TokenizerFile { get; init; }

    /// <summary>The thread count both runtimes get.</summary>
    public int EffectiveThreads => Threads > 0 ? Threads : OnnxModelOptions.DefaultIntraOpThreads;

    /// <summary>GenAI's adaptive width starts (and is floored) here, beside our per-task γ*; 0 leaves both arms out. Default 1.</summary>
    public int AdaptiveMinK { get; init; } = 1;

    public void Validate()
    {
        if (Gamma is < 1 or > 16)
        {
            throw new ArgumentOutOfRangeException(nameof(Gamma), Gamma, "gamma must be in 1..16 (GenAI's max_draft_tokens range)");
        }

        ArgumentOutOfRangeException.ThrowIfLessThan(Prompts, 1);
        ArgumentOutOfRangeException.ThrowIfLessThan(MaxNewTokens, 1);
        ArgumentOutOfRangeException.ThrowIfLessThan(Repeats, 1);
        ArgumentOutOfRangeException.ThrowIfNegative(Threads);
        if (AdaptiveMinK is < 0 or > 16)
        {
            throw new ArgumentOutOfRangeException(nameof(AdaptiveMinK), AdaptiveMinK, "the adaptive start must be in 0..16 (0 = no adaptive arms)");
        }
    }
}

/// <summary>One arm's totals over a language: the kept (fastest) time per prompt, tokens, the kept repeats' counters.</summary>
/// <param name="UntimedMs">Per prompt, the kept repeat's work outside the product's timer (reference pass, traces).</param>
internal sealed record ArmTotals(string Key, double[] PromptMs, long Tokens, SpecCounters? Counters, double[]? UntimedMs = null)
{
    public double Ms => PromptMs.Sum();

    public double TokensPerSecond => Tokens / (Ms / 1000);
}

/// <summary>One language's measurements.</summary>
/// <param name="ExactAlpha">Mean exact α(s) over the reference prefixes (the verifier's own continuations), from arm (d)'s reference pass.</param>
/// <param name="OptimalGamma">Our report's γ* for the language (0 = plain decoding); null without the adaptive arms.</param>
internal sealed record LanguageResult(string Id, int Prompts, long Tokens, IReadOnlyDictionary<string, ArmTotals> Arms, double ExactAlpha, int? OptimalGamma);

/// <summary>A side-by-side run's measurements.</summary>
/// <param name="GenAiSpeculativeRefusal">
/// ONNX Runtime GenAI's error when its own speculative decoding cannot run the pair (arms (b) and (f) are then left out);
/// null when it ran.
/// </param>
internal sealed record SideBySideResult(
    SideBySideSettings Settings,
    IReadOnlyList<(string Key, string Label)> Arms,
    IReadOnlyList<LanguageResult> Languages,
    IReadOnlyList<string> Disagreements,
    long Comparisons,
    string Pair,
    TimeSpan Elapsed,
    string? GenAiSpeculativeRefusal = null);

/// <summary>
/// The side-by-side run (issue 15): the same drafter/verifier pair, the same token ids, greedy, in one process, through
/// ONNX Runtime GenAI and through our engine. Arms: (a) GenAI target only, (b) GenAI speculative at γ, (c) our
/// autoregressive baseline, (d) our speculative engine as an evaluation times it (no statistics in the timed generation; the reference pass
/// and the traces after it, their cost reported apart), (e) the bare engine without the runner; with the adaptive arms, (f) GenAI with adaptive K and (g) ours at the report's per-task γ*.
/// </summary>
/// <remarks>
/// Per prompt every arm runs <see cref="SideBySideSettings.Repeats"/> times, the arm order rotating by prompt and repeat so
/// that a slow phase of the machine does not always fall on the same arm; each arm keeps its fastest repeat. Every run's
/// tokens are compared with the first run of (c) (the verifier's greedy decode): speculative decoding is lossless, so any
/// difference is a bug in one of the runtimes, and the run reports it.
/// </remarks>
internal static class SideBySide
{
    public static async Task<SideBySideResult> RunAsync(
        string verifierFolder,
        string drafterFolder,
        IReadOnlyList<(string Id, IReadOnlyList<string> Prompts)> tasks,
        SideBySideSettings settings,
        string workFolder,
        TextWriter log,
        CancellationToken cancellationToken = default)
    {
        settings.Validate();
        var watch = Stopwatch.StartNew();
        var modelOptions = new OnnxModelOptions { IntraOpThreads = settings.EffectiveThreads, TokenizerFile = settings.TokenizerFile };
        using var verifier = OnnxLanguageModel.Load(verifierFolder, modelOptions);
        using var drafter = OnnxLanguageModel.Load(drafterFolder, modelOptions);
        ModelPair.EnsureCompatible(drafter, verifier);
        var decoding = new DecodingOptions
        {
            Gamma = settings.Gamma,
            MaxNewTokens = settings.MaxNewTokens,
            StopTokens = settings.IgnoreEos ? [] : verifier.Manifest.EosTokenIds,
            Sampling = new SamplingOptions { Temperature = 0 },
        };
        var prompts = tasks.Select(t => (t.Id, Tokens: t.Prompts.Take(settings.Prompts).Select(p => EvaluationDefaults.Tokenize(verifier, p)).ToList())).ToList();

        // The verifier's greedy continuations, once (also the warm-up of our sessions). To ignore end-of-sequence, GenAI is
        // given an end-of-sequence id that none of them contains: an arm that strays from them and stops there fails the
        // agreement check like any other difference.
        var greedy = new AutoregressiveDecoder(verifier, decoding);
        var seen = prompts.SelectMany(p => p.Tokens).SelectMany(t => greedy.Generate(t).Tokens).ToHashSet();
        int? neverStop = settings.IgnoreEos
            ? Enumerable.Range(0, verifier.VocabularySize).Reverse().First(t => !seen.Contains(t) && !verifier.Manifest.EosTokenIds.Contains(t))
            : null;

        // With end-of-sequence honoured, GenAI ends at the token without putting it in the sequence; our engine emits it.
        int? eos = settings.IgnoreEos ? null : verifier.Manifest.EosTokenIds.FirstOrDefault();
        using var genAiTarget = GenAiFolders.Load(verifierFolder, settings.EffectiveThreads, neverStop);
        var speculativeFolder = GenAiFolders.WriteSpeculative(verifierFolder, drafterFolder, Path.Combine(workFolder, "genai-speculative"), settings.Gamma);
        using var genAiSpeculative = GenAiFolders.Load(speculativeFolder, settings.EffectiveThreads, neverStop);

        // γ* per language from the product's own evaluation (untimed here): speculative and baseline runs plus the
        // verifier's cost profile, analysed as the report does.
        var optimalGamma = new Dictionary<string, int>();
        if (settings.AdaptiveMinK > 0)
        {
            log.WriteLine($"Finding γ* per language with the product's evaluation (γ ≤ {settings.Gamma}) ...");
            var statistics = new List<(string, IReadOnlyList<PromptStatistics>)>();
            foreach (var (id, tokens) in prompts)
            {
                var builder = new TaskStatisticsBuilder(settings.Gamma);
                new TaskRunner(drafter, verifier, decoding).Run(tokens, builder, cancellationToken: cancellationToken);
                statistics.Add((id, builder.Build()));
            }

            foreach (var task in SuiteAnalyzer.Analyze(statistics, settings.Gamma).Tasks)
            {
                optimalGamma[task.TaskId] = task.OptimalGamma ?? settings.Gamma;
            }

            log.WriteLine("  γ*: " + string.Join(", ", prompts.Select(p => $"{p.Id} {optimalGamma[p.Id]}")));
        }

        // Arm (d)'s traces go where an evaluation's go: the product's trace store, here on a local folder.
        var store = TraceStore.OpenFolder(Path.Combine(workFolder, "traces"));
        var runId = $"genai-bench-{DateTime.UtcNow:yyyyMMdd-HHmmss}";
        var verifierHash = ModelFolderHash.Compute(verifierFolder).Sha256;
        var drafterHash = ModelFolderHash.Compute(drafterFolder).Sha256;
        var runSettings = RunSettings.From(decoding, baseline: false);
        await store.CreateRunAsync(new RunManifest
        {
            RunId = runId,
            CreatedAt = DateTimeOffset.UtcNow,
            Drafter = new ModelIdentity { Name = drafter.Name, Sha256 = drafterHash },
            Verifier = new ModelIdentity { Name = verifier.Name, Sha256 = verifierHash },
            Settings = runSettings,
        }, cancellationToken).ConfigureAwait(false);

        string? genAiSpeculativeRefusal = null;
        List<Arm> ArmsFor(ITraceSink traces, ITraceSink gatedTraces, int? gamma)
        {
            List<Arm> arms =
            [
                new GenAiArm("a", "GenAI target only", genAiTarget, settings.MaxNewTokens, eos),
                new AutoregressiveArm("c", "ours, autoregressive", verifier, decoding),
                new TracedSpeculativeArm("d", $"ours, γ = {settings.Gamma}, as evaluations time it", drafter, verifier, decoding, traces),
                new BareSpeculativeArm("e", $"ours, γ = {settings.Gamma}, no statistics", drafter, verifier, decoding),
            ];
            if (genAiSpeculativeRefusal is null)
            {
                arms.Insert(1, new GenAiArm("b", $"GenAI speculative, K = {settings.Gamma}", genAiSpeculative, settings.MaxNewTokens, eos, settings.Gamma));
            }

            if (gamma is { } g)
            {
                if (genAiSpeculativeRefusal is null)
                {
                    arms.Add(new GenAiArm("f", $"GenAI adaptive K (start {settings.AdaptiveMinK})", genAiSpeculative, settings.MaxNewTokens, eos, adaptiveMinK: settings.AdaptiveMinK));
                }

                const string label = "ours at the report's γ* per language (as evaluations time it; γ* = 0: plain decoding)";
                arms.Add(g == 0
                    ? new AutoregressiveArm("g", label, verifier, decoding)
                    : new TracedSpeculativeArm("g", label, drafter, verifier, decoding with { Gamma = g }, gatedTraces));
            }

            return arms;
        }

        // Warm-up: every arm twice on the first prompt (JIT, ONNX Runtime's first-run allocations, the trace writer's
        // serializer and compressor), untimed, into a task of its own.
        await using (var warmUp = await store.OpenTraceWriterAsync(runId, "warm-up", ContentKey.Sha256Hex(runId), 1, cancellationToken).ConfigureAwait(false))
        {
            foreach (var arm in ArmsFor(warmUp, warmUp, settings.AdaptiveMinK > 0 ? Math.Max(1, settings.Gamma - 1) : null))
            {
                try
                {
                    arm.Generate(prompts[0].Tokens[0], 0);
                    arm.Generate(prompts[0].Tokens[0], 0);
                }
                catch (OnnxRuntimeGenAIException ex) when (arm.Key is "b" or "f")
                {
                    // GenAI's own speculative decoding cannot run every export it loads (e.g. the model builder's Llama
                    // graphs refuse a multi-token append after the prompt; GPT-2's combined past_%d cache as a draft).
                    // That is GenAI's limit, not the pair's: the remaining arms still compare the runtimes.
                    if (genAiSpeculativeRefusal is null)
                    {
                        genAiSpeculativeRefusal = ex.Message.Trim();
                        log.WriteLine($"  GenAI's speculative decoding fails on this pair, arms (b) and (f) left out: {genAiSpeculativeRefusal}");
                    }
                }
                finally
                {
                    arm.Dispose();
                }
            }

            await warmUp.CommitAsync(cancellationToken).ConfigureAwait(false);
        }

        var disagreements = new List<string>();
        long comparisons = 0;
        var languages = new List<LanguageResult>();
        var armLabels = new List<(string, string)>();
        foreach (var (id, tokens) in prompts)
        {
            var languageWatch = Stopwatch.StartNew();
            int? gamma = settings.AdaptiveMinK > 0 ? optimalGamma[id] : null;
            var contentKey = ContentKey.Sha256Hex($"genai-bench|{runId}|{id}");
            await using var traces = await store.OpenTraceWriterAsync(runId, id, contentKey, tokens.Count, cancellationToken).ConfigureAwait(false);
            await using var gatedTraces = await store.OpenTraceWriterAsync(runId, id + "-gamma-star", ContentKey.Sha256Hex(contentKey), tokens.Count, cancellationToken)
                .ConfigureAwait(false);
            var arms = ArmsFor(traces, gatedTraces, gamma);
            if (armLabels.Count == 0)
            {
                armLabels.AddRange(arms.Select(a => (a.Key, a.Label)));
            }

            var statistics = new TaskStatisticsBuilder(settings.Gamma);
            var kept = arms.ToDictionary(a => a.Key, _ => new double[tokens.Count]);
            var untimed = arms.ToDictionary(a => a.Key, _ => new double[tokens.Count]);
            var counters = arms.ToDictionary(a => a.Key, _ => (SpecCounters?)null);
            long generated = 0;
            for (var i = 0; i < tokens.Count; i++)
            {
                cancellationToken.ThrowIfCancellationRequested();
                int[]? reference = null;
                var runs = new List<(string Key, int Repeat, ArmRun Run)>();
                for (var r = 0; r < settings.Repeats; r++)
                {
                    foreach (var arm in Rotate(arms, i + r))
                    {
                        if (arm is TracedSpeculativeArm traced && arm.Key == "d")
                        {
                            traced.Statistics = r == 0 ? statistics : null;
                        }

                        var run = arm.Generate(tokens[i], i);
                        runs.Add((arm.Key, r, run));
                        if (arm.Key == "c" && r == 0)
                        {
                            reference = run.Tokens;
                        }
                    }
                }

                foreach (var (key, repeat, run) in runs)
                {
                    comparisons++;
                    if (Difference(reference!, run.Tokens) is { } at)
                    {
                        disagreements.Add($"{id} prompt {i}: arm ({key}) repeat {repeat + 1} differs from (c) at new token {at} " +
                            $"({Describe(run.Tokens, at)} vs {Describe(reference!, at)}; {run.Tokens.Length} vs {reference!.Length} tokens)");
                    }
                }

                foreach (var group in runs.GroupBy(x => x.Key))
                {
                    // The kept repeat's own counters: its drafter and verifier times belong to the kept wall time.
                    var fastest = group.MinBy(x => x.Run.Ms).Run;
                    kept[group.Key][i] = fastest.Ms;
                    untimed[group.Key][i] = fastest.UntimedMs;
                    counters[group.Key] = fastest.Counters is { } c ? (counters[group.Key] ?? SpecCounters.Zero).Add(c) : counters[group.Key];
                }

                generated += reference!.Length;
            }

            await traces.CommitAsync(cancellationToken).ConfigureAwait(false);
            await gatedTraces.CommitAsync(cancellationToken).ConfigureAwait(false);
            var steps = statistics.Build();
            var alpha = steps.Sum(p => p.AlphaSum) / Math.Max(1, steps.Sum(p => p.Positions));
            var result = new LanguageResult(
                id, tokens.Count, generated, arms.ToDictionary(a => a.Key, a => new ArmTotals(a.Key, kept[a.Key], generated, counters[a.Key], untimed[a.Key])), alpha, gamma);
            languages.Add(result);
            foreach (var arm in arms)
            {
                arm.Dispose();
            }

            log.WriteLine($"  {id}: {tokens.Count} prompts, {generated} tokens, {languageWatch.Elapsed.TotalSeconds:F1} s; tokens/s " +
                string.Join(", ", result.Arms.Values.Select(a => $"({a.Key}) {a.TokensPerSecond:F0}")));
        }

        return new SideBySideResult(settings, armLabels, languages, disagreements, comparisons,
            $"{verifier.Name} ({Path.GetFileName(verifierFolder)}) / {drafter.Name}", watch.Elapsed, genAiSpeculativeRefusal);
    }

    private static IEnumerable<Arm> Rotate(IReadOnlyList<Arm> arms, int shift)
    {
        for (var j = 0; j < arms.Count; j++)
        {
            yield return arms[(j + shift) % arms.Count];
        }
    }

    /// <summary>Index of the first differing new token (or the shorter length); null when identical.</summary>
    internal static int? Difference(int[] expected, int[] actual)
    {
        var common = Math.Min(expected.Length, actual.Length);
        for (var k = 0; k < common; k++)
        {
            if (expected[k] != actual[k])
            {
                return k;
            }
        }

        return expected.Length == actual.Length ? null : common;
    }

    private static string Describe(int[] tokens, int at) => at < tokens.Length ? tokens[at].ToString(System.Globalization.CultureInfo.InvariantCulture) : "end";
}
