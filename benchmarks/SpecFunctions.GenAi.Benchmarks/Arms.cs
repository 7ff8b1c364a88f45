using System.Diagnostics;
using Microsoft.ML.OnnxRuntimeGenAI;
using SpecFunctions.Core.Decoding;
using SpecFunctions.Core.Models;
using SpecFunctions.Core.Tracing;

namespace SpecFunctions.GenAi.Benchmarks;

/// <summary>
/// Speculative-decoding counters of one generation, from the runtime's own bookkeeping: GenAI's
/// <c>GetSpeculativeStats()</c> or our engine's step records.
/// </summary>
/// <param name="Rounds">Draft-and-verify rounds (our steps).</param>
/// <param name="Proposed">Draft tokens proposed.</param>
/// <param name="Evaluated">Draft tokens examined before acceptance stopped (accepted ones plus the first rejected one).</param>
/// <param name="Accepted">Draft tokens accepted.</param>
/// <param name="Emitted">Tokens the rounds emitted.</param>
/// <param name="DraftMs">Time in drafter calls (GenAI: all proposer time).</param>
/// <param name="TargetMs">Time in verifier calls (GenAI: verification and re-anchor passes).</param>
/// <param name="EffectiveK">GenAI's proposal width at the end (adaptive K); null for our engine.</param>
internal sealed record SpecCounters(long Rounds, long Proposed, long Evaluated, long Accepted, long Emitted, double DraftMs, double TargetMs, double? EffectiveK = null)
{
    public static SpecCounters Zero { get; } = new(0, 0, 0, 0, 0, 0, 0);

    public SpecCounters Add(SpecCounters other) => new(
        Rounds + other.Rounds, Proposed + other.Proposed, Evaluated + other.Evaluated, Accepted + other.Accepted, Emitted + other.Emitted,
        DraftMs + other.DraftMs, TargetMs + other.TargetMs, EffectiveK is null && other.EffectiveK is null ? null : (EffectiveK ?? 0) + (other.EffectiveK ?? 0));
}

/// <summary>One timed generation: the new tokens, the wall time from the start of the call to the last token, the counters.</summary>
/// <param name="UntimedMs">Work the product does outside its timer (the reference pass, trace writing), milliseconds; 0 for other arms.</param>
internal sealed record ArmRun(int[] Tokens, double Ms, SpecCounters? Counters, double UntimedMs = 0);

/// <summary>One way of generating a prompt's continuation greedily (an arm of the benchmark).</summary>
internal abstract class Arm : IDisposable
{
    /// <summary>Short key used in tables: a … g.</summary>
    public abstract string Key { get; }

    public abstract string Label { get; }

    /// <summary>Generates up to the budget (an end-of-sequence token ends it, and is emitted), timed from start to finish.</summary>
    public abstract ArmRun Generate(int[] prompt, int promptIndex);

    public virtual void Dispose()
    {
    }
}

/// <summary>
/// ONNX Runtime GenAI's own loop: a generator per prompt (as its samples do), greedy search, <c>max_length</c> = prompt +
/// budget; speculative when the model's configuration has a draft block. <paramref name="adaptiveMinK"/> &gt; 0 turns on
/// GenAI's adaptive proposal width starting (and floored) there.
/// </summary>
/// <remarks>
/// GenAI ends at an end-of-sequence token without putting it in the sequence, where our engine emits it: with
/// <paramref name="endOfSequence"/> given, a generation that ended before its budget gets that token appended, so that
/// both runtimes' outputs compare token for token.
/// </remarks>
internal sealed class GenAiArm(string key, string label, Model model, int maxNewTokens, int? endOfSequence, int? maxDraftTokens = null, int adaptiveMinK = 0) : Arm
{
    public override string Key => key;

    public override string Label => label;

    public override ArmRun Generate(int[] prompt, int promptIndex)
    {
        var start = Stopwatch.GetTimestamp();
        using var parameters = new GeneratorParams(model);
        parameters.SetSearchOption("max_length", prompt.Length + maxNewTokens);
        parameters.SetSearchOption("do_sample", false);
        if (maxDraftTokens is { } k)
        {
            parameters.SetSpeculativeNumber("max_draft_tokens", k);
        }

        if (adaptiveMinK > 0)
        {
            parameters.SetSpeculativeNumber("min_adaptive_k", adaptiveMinK);
        }

        using var generator = new Generator(model, parameters);
        generator.AppendTokens(prompt);
        while (!generator.IsDone())
        {
            generator.GenerateNextToken();
        }

        var tokens = generator.GetSequence(0)[prompt.Length..].ToArray();
        var ms = Stopwatch.GetElapsedTime(start).TotalMilliseconds;
        if (endOfSequence is { } eos && tokens.Length < maxNewTokens)
        {
            tokens = [.. tokens, eos];
        }

        return new ArmRun(tokens, ms, maxDraftTokens is null && adaptiveMinK == 0 ? null : Counters(generator, adaptiveMinK > 0));
    }

    private static SpecCounters Counters(Generator generator, bool adaptive)
    {
        using var stats = generator.GetSpeculativeStats();
        return new SpecCounters(
            (long)stats.GetCount("rounds"),
            (long)stats.GetCount("draft_tokens_proposed"),
            (long)stats.GetCount("draft_tokens_evaluated"),
            (long)stats.GetCount("draft_tokens_accepted"),
            (long)stats.GetCount("tokens_emitted"),
            stats.GetNumber("total_draft_ms"),
            stats.GetNumber("total_target_ms"),
            adaptive ? stats.GetCount("effective_k") : null);
    }
}

/// <summary>Our verifier-only baseline (<see cref="AutoregressiveDecoder"/>): one verifier call per token.</summary>
internal sealed class AutoregressiveArm(string key, string label, ILanguageModel verifier, DecodingOptions options) : Arm
{
    private readonly AutoregressiveDecoder _decoder = new(verifier, options);

    public override string Key => key;

    public override string Label => label;

    public override ArmRun Generate(int[] prompt, int promptIndex)
    {
        var start = Stopwatch.GetTimestamp();
        var result = _decoder.Generate(prompt, promptIndex);
        return new ArmRun(result.Tokens, Stopwatch.GetElapsedTime(start).TotalMilliseconds, null);
    }
}

/// <summary>Our speculative engine without statistics or traces: what a serving loop would run.</summary>
internal sealed class BareSpeculativeArm(string key, string label, ILanguageModel drafter, ILanguageModel verifier, DecodingOptions options) : Arm
{
    private readonly SpeculativeDecoder _decoder = new(drafter, verifier, options with { ComputeStatistics = false, RecordTokens = false });

    public override string Key => key;

    public override string Label => label;

    public override ArmRun Generate(int[] prompt, int promptIndex)
    {
        var start = Stopwatch.GetTimestamp();
        var result = _decoder.Generate(prompt, null, promptIndex);
        var ms = Stopwatch.GetElapsedTime(start).TotalMilliseconds;
        return new ArmRun(result.Tokens, ms, new SpecCounters(
            result.Steps, result.DraftedTokens, 0, result.AcceptedTokens, result.Tokens.Length,
            result.DrafterTime.TotalMilliseconds, result.VerifierTime.TotalMilliseconds));
    }
}

/// <summary>
/// Our speculative engine as an evaluation runs and times it: the product's <see cref="TaskRunner"/> (no baseline, one
/// repeat), whose timed generation computes no statistics, then its untimed reference pass (α(s), cross-entropy and KL
/// at every reference prefix, method.md §3) and every record written to <paramref name="sink"/> (the product's gzip
/// JSON-lines trace writer). The arm's time is the product's (<see cref="PromptTrace.SpeculativeMs"/>); the rest of the
/// call (reference pass, trace writing) is reported as <see cref="ArmRun.UntimedMs"/>.
/// </summary>
internal sealed class TracedSpeculativeArm(string key, string label, ILanguageModel drafter, ILanguageModel verifier, DecodingOptions options, ITraceSink sink) : Arm
{
    private readonly DecodingOptions _options = options with { ComputeStatistics = true, RecordTokens = true };

    public override string Key => key;

    public override string Label => label;

    /// <summary>Receives the records of each generation as well (the benchmark's statistics); null to skip.</summary>
    public ITraceSink? Statistics { get; set; }

    public override ArmRun Generate(int[] prompt, int promptIndex)
    {
        var tee = new CountingSink(sink, promptIndex, Statistics);
        var start = Stopwatch.GetTimestamp();
        new TaskRunner(drafter, verifier, _options) { RunBaseline = false }.Run([prompt], tee);
        var wall = Stopwatch.GetElapsedTime(start).TotalMilliseconds;
        return new ArmRun(tee.Tokens ?? [], tee.SpeculativeMs, tee.Counters, Math.Max(0, wall - tee.SpeculativeMs));
    }

    /// <summary>
    /// Forwards records under the benchmark's prompt index (the runner numbers its one prompt 0) and counts the steps: the
    /// counters come from the same step records the trace holds.
    /// </summary>
    private sealed class CountingSink(ITraceSink inner, int promptIndex, ITraceSink? statistics) : ITraceSink
    {
        private long _rounds, _proposed, _evaluated, _accepted, _emitted;
        private double _draftMs, _targetMs;

        public int[]? Tokens { get; private set; }

        /// <summary>The generation's own time, as the product measures it.</summary>
        public double SpeculativeMs { get; private set; }

        public SpecCounters Counters => new(_rounds, _proposed, _evaluated, _accepted, _emitted, _draftMs, _targetMs);

        public void Write(TraceRecord record)
        {
            var indexed = record with { Prompt = promptIndex };
            switch (indexed)
            {
                case StepTrace step:
                    _rounds++;
                    _proposed += step.Gamma;
                    _accepted += step.Accepted;
                    _evaluated += step.Accepted + (step.Accepted < step.Gamma ? 1 : 0);
                    _emitted += step.Emitted;
                    _draftMs += step.DrafterMs;
                    _targetMs += step.VerifierMs;
                    break;
                case PromptTrace prompt:
                    Tokens = prompt.Tokens;
                    SpeculativeMs = prompt.SpeculativeMs;
                    break;
            }

            inner.Write(indexed);
            statistics?.Write(indexed);
        }
    }
}
