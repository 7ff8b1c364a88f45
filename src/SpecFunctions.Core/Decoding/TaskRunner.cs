using SpecFunctions.Core.Models;
using SpecFunctions.Core.Tracing;

namespace SpecFunctions.Core.Decoding;

/// <summary>
/// Runs one task's prompts under the measurement protocol (method.md §4): per prompt, speculative decoding and the
/// autoregressive baseline on the same prompt and budget, interleaved, <see cref="Repeats"/> times each, computing no
/// statistics; then one untimed <see cref="ReferencePass"/> over the baseline's continuation. Every
/// <see cref="StepTrace"/> of the kept speculative repeat, the prompt's <see cref="ReferenceTrace"/> and one
/// <see cref="PromptTrace"/> go to the sink, in that order.
/// </summary>
/// <remarks>
/// The sampler is seeded per prompt, so the repeats of a prompt generate the same tokens in the same steps and differ
/// only in time. Each arm keeps its fastest repeat (timeit's minimum): on a shared machine noise only adds time
/// (preemption, GC, a neighbour's cache traffic), so the minimum is the robust estimate of the work's cost, and the
/// kept speculative repeat's step times (drafter and verifier calls) are those of the same run, which keeps c and v_γ
/// consistent with its wall time. Repeats alternate the order of the two arms (spec→base, base→spec, …) so that a slow
/// phase of the machine does not always fall on the same arm. A repeat whose tokens differ from the first repeat's
/// (a non-deterministic execution provider) is not a measurement of the same work and is never kept.
/// </remarks>
public sealed class TaskRunner(ILanguageModel drafter, ILanguageModel verifier, DecodingOptions options)
{
    private const int ProfileRounds = 3;

    /// <summary>Run the verifier-only baseline for each prompt (needed for measured speed-up, c and v_γ). Default true.</summary>
    public bool RunBaseline { get; init; } = true;

    /// <summary>Timed repeats per prompt and arm, ≥ 1. Default 1.</summary>
    public int Repeats { get; init; } = 1;

    /// <summary>
    /// Plain decoding (γ = 0, speculation does not pay on this task): the timed arm is the verifier alone, and one untimed
    /// speculative pass at the options' γ records the steps (accepted lengths, acceptance by position), marked
    /// <see cref="PromptTrace.Plain"/> so that its step times stay out of c and v_γ; α(s), D_T … come from the reference
    /// pass as for every task. Default false.
    /// </summary>
    public bool PlainDecoding { get; init; }

    /// <summary>Largest draft length of the verifier cost profile (<see cref="PromptTrace.VerifierCallMs"/>); default the options' γ.</summary>
    public int? CostProfileGamma { get; init; }

    /// <summary>
    /// Prompts (the first ones) on which the step-cost profile (<see cref="PromptTrace.StepMsByGamma"/>) is measured in the
    /// decode loop: one full speculative generation at every γ = 1 … <see cref="CostProfileGamma"/>, the γs in an order
    /// that rotates from prompt to prompt. Needs the baseline; 0 turns it off. Default 2.
    /// </summary>
    public int StepProfilePrompts { get; init; } = 2;

    /// <summary>
    /// Index in the task of the first prompt passed to <see cref="Run"/> (a prompt shard's offset). Every per-prompt
    /// choice uses the prompt's index in the task: its random stream, the index its records carry, and whether it is one
    /// of the <see cref="StepProfilePrompts"/>; so a task run in shards writes the records it writes unsharded. Default 0.
    /// </summary>
    public int FirstPromptIndex { get; init; }

    /// <summary>Runs all prompts in order; reports the number of prompts finished.</summary>
    public void Run(IReadOnlyList<int[]> prompts, ITraceSink sink, IProgress<int>? progress = null, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(prompts);
        ArgumentNullException.ThrowIfNull(sink);
        ArgumentOutOfRangeException.ThrowIfLessThan(Repeats, 1);
        // The timed arms do what a user's speculative decoding does, nothing more: the statistics come from the
        // untimed reference pass (so the plain mode's untimed speculative pass needs none either).
        var timed = options with { ComputeStatistics = false };
        var speculative = new SpeculativeDecoder(drafter, verifier, timed);
        var baseline = RunBaseline ? new AutoregressiveDecoder(verifier, timed) : null;
        var plain = PlainDecoding ? new AutoregressiveDecoder(verifier, timed) : null;
        var reference = new ReferencePass(drafter, verifier, options.Sampling);
        ArgumentOutOfRangeException.ThrowIfNegative(FirstPromptIndex);
        for (var k = 0; k < prompts.Count; k++)
        {
            cancellationToken.ThrowIfCancellationRequested();
            var prompt = prompts[k];
            var i = FirstPromptIndex + k;
            BufferSink? statisticsSteps = null;
            GenerationResult? statisticsRun = null;
            if (plain is not null)
            {
                statisticsSteps = new BufferSink();
                statisticsRun = speculative.Generate(prompt, statisticsSteps, i, cancellationToken);
            }

            Kept? keptSpec = null, keptBaseline = null;
            var specTimes = new double[Repeats];
            var baselineTimes = baseline is null ? null : new double[Repeats];
            for (var r = 0; r < Repeats; r++)
            {
                // Alternate the order of the arms between repeats.
                if (r % 2 == 1 && baseline is not null)
                {
                    keptBaseline = Keep(keptBaseline, baseline.Generate(prompt, i, cancellationToken), null, baselineTimes!, r);
                }

                if (plain is not null)
                {
                    keptSpec = Keep(keptSpec, plain.Generate(prompt, i, cancellationToken), null, specTimes, r);
                }
                else
                {
                    var steps = new BufferSink();
                    keptSpec = Keep(keptSpec, speculative.Generate(prompt, steps, i, cancellationToken), steps, specTimes, r);
                }

                if (r % 2 == 0 && baseline is not null)
                {
                    keptBaseline = Keep(keptBaseline, baseline.Generate(prompt, i, cancellationToken), null, baselineTimes!, r);
                }
            }

            foreach (var step in (statisticsSteps ?? keptSpec!.Steps!).Records)
            {
                sink.Write(step);
            }

            var result = keptSpec!.Result;
            var baselineResult = keptBaseline?.Result;
            sink.Write(baselineResult is not null
                ? reference.Run(i, prompt, baselineResult.Tokens, ReferenceSource.Baseline, cancellationToken)
                : reference.Run(i, prompt, result.Tokens, ReferenceSource.Speculative, cancellationToken));
            sink.Write(new PromptTrace
            {
                Prompt = i,
                PromptTokens = prompt.Length,
                GeneratedTokens = result.Tokens.Length,
                Steps = statisticsRun?.Steps ?? result.Steps,
                StopReason = result.StopReason,
                SpeculativeMs = result.Elapsed.TotalMilliseconds,
                BaselineMs = baselineResult?.Elapsed.TotalMilliseconds,
                BaselineTokens = baselineResult?.Tokens.Length,
                BaselineStepMs = baselineResult is { Steps: > 0 } ? baselineResult.VerifierTime.TotalMilliseconds / baselineResult.Steps : null,
                Tokens = options.RecordTokens ? result.Tokens : null,
                SpeculativeRepeatsMs = Repeats > 1 ? specTimes : null,
                BaselineRepeatsMs = Repeats > 1 ? baselineTimes : null,
                VerifierCallMs = baseline is null ? null : VerifierCallProfile(prompt, result.Tokens, CostProfileGamma ?? options.Gamma),
                StepMsByGamma = baseline is null || plain is not null || i >= StepProfilePrompts ? null : StepProfile(prompt, i, timed, CostProfileGamma ?? options.Gamma, cancellationToken),
                Plain = plain is not null,
            });
            progress?.Report(k + 1);
        }
    }

    /// <summary>
    /// The verifier's cost of one call scoring n = 1 … γ+1 positions after this prompt (fastest of
    /// <see cref="ProfileRounds"/> calls each, after one untimed call), milliseconds: v_γ for every draft length up to the
    /// run's, from which the report finds the draft length that pays per task. Null when the prompt leaves no room for
    /// γ+1 more positions in the context.
    /// </summary>
    private double[]? VerifierCallProfile(int[] prompt, int[] generated, int gamma)
    {
        if (prompt.Length + gamma >= verifier.ContextLength)
        {
            return null;
        }

        // The last prompt token followed by the generated tokens (the prompt's last token again where too few were generated).
        var tokens = new int[gamma + 1];
        for (var i = 0; i <= gamma; i++)
        {
            tokens[i] = i == 0 || i > generated.Length ? prompt[^1] : generated[i - 1];
        }

        var logits = new float[(gamma + 1) * verifier.VocabularySize];
        using var sequence = verifier.CreateSequence();
        sequence.Append(prompt.AsSpan(0, prompt.Length - 1), Span<float>.Empty);
        var prefix = sequence.Length;
        sequence.Append(tokens.AsSpan(0, 1), logits.AsSpan(0, verifier.VocabularySize));
        sequence.Truncate(prefix);
        // Three rounds over the sizes, each size keeping its fastest call: one call each would let a thread-pool
        // wake-up or a preemption decide the ratio.
        var times = Enumerable.Repeat(double.PositiveInfinity, gamma + 1).ToArray();
        for (var round = 0; round < ProfileRounds; round++)
        {
            for (var n = 1; n <= gamma + 1; n++)
            {
                var start = System.Diagnostics.Stopwatch.GetTimestamp();
                sequence.Append(tokens.AsSpan(0, n), logits.AsSpan(0, n * verifier.VocabularySize));
                times[n - 1] = Math.Min(times[n - 1], System.Diagnostics.Stopwatch.GetElapsedTime(start).TotalMilliseconds);
                sequence.Truncate(prefix);
            }
        }

        return times;
    }

    /// <summary>
    /// Wall time per speculative step at γ = 1 … <paramref name="gamma"/> (element γ − 1), milliseconds: one untraced
    /// generation of the run's budget at each γ, in the decode loop a user runs (drafter calls, catch-up, verification,
    /// acceptance, rewinds, prefill amortised as in the timed arms). The γs rotate with the prompt index so that no γ
    /// always runs first or last.
    /// </summary>
    private double[] StepProfile(int[] prompt, int index, DecodingOptions timed, int gamma, CancellationToken cancellationToken)
    {
        var perStep = new double[gamma];
        for (var k = 0; k < gamma; k++)
        {
            var g = 1 + ((index + k) % gamma);
            var result = new SpeculativeDecoder(drafter, verifier, timed with { Gamma = g }).Generate(prompt, null, index, cancellationToken);
            perStep[g - 1] = result.Steps > 0 ? result.Elapsed.TotalMilliseconds / result.Steps : double.NaN;
        }

        return perStep;
    }

    /// <summary>Keeps the fastest repeat among those that generated the first repeat's tokens.</summary>
    private static Kept Keep(Kept? kept, GenerationResult result, BufferSink? steps, double[] times, int repeat)
    {
        times[repeat] = result.Elapsed.TotalMilliseconds;
        if (kept is null)
        {
            return new Kept(result, steps, result.Tokens);
        }

        var sameWork = result.Tokens.AsSpan().SequenceEqual(kept.FirstTokens);
        return sameWork && result.Elapsed < kept.Result.Elapsed ? new Kept(result, steps, kept.FirstTokens) : kept;
    }

    private sealed record Kept(GenerationResult Result, BufferSink? Steps, int[] FirstTokens);

    /// <summary>Holds one repeat's step records until the protocol knows which repeat it keeps.</summary>
    private sealed class BufferSink : ITraceSink
    {
        public List<TraceRecord> Records { get; } = [];

        public void Write(TraceRecord record) => Records.Add(record);
    }
}
