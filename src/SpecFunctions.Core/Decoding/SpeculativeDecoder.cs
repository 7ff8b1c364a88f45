using System.Diagnostics;
using SpecFunctions.Core.Models;
using SpecFunctions.Core.Sampling;
using SpecFunctions.Core.Tracing;

namespace SpecFunctions.Core.Decoding;

/// <summary>
/// Lossless speculative sampling (method.md §2): the drafter proposes up to γ tokens, the verifier scores γ+1
/// positions in one call, drafts are accepted with probability min(1, p/q), the first rejection draws from
/// norm(max(0, p − q)), and a fully accepted draft earns a bonus token from p. Temperature 0 is greedy: accept while
/// argmax p equals the draft, so the output is exactly the verifier's greedy decode.
/// </summary>
/// <remarks>
/// Both sequences lag the committed prefix: the verifier holds all but the last token, so appending
/// [last, x₁..x_γ] yields p(·|s), p(·|s,x₁) … p(·|s,x₁..x_γ) in one forward pass; the drafter holds whatever it has
/// not yet been fed, so after a fully accepted draft it catches up with two tokens in one call instead of two calls.
/// An instance keeps scratch buffers: it is not thread-safe; use one per concurrent generation.
/// </remarks>
public sealed class SpeculativeDecoder
{
    private readonly ILanguageModel _drafter;
    private readonly ILanguageModel _verifier;
    private readonly DecodingOptions _options;
    private readonly int _vocab;
    private readonly float[] _verifierLogits;
    private readonly float[][] _q;
    private readonly float[][] _p;
    private readonly float[] _scratch;
    private readonly float[][] _qLogits;
    private readonly Distributions.Row[] _qRows;
    private readonly Distributions.Row[] _pRows;
    private readonly int[] _verifyInput;
    private readonly int[] _drafts;
    private readonly double[] _alpha;
    private readonly double[] _crossEntropy;
    private readonly double[] _kl;
    private readonly HashSet<int> _stopTokens;

    public SpeculativeDecoder(ILanguageModel drafter, ILanguageModel verifier, DecodingOptions options)
    {
        ArgumentNullException.ThrowIfNull(drafter);
        ArgumentNullException.ThrowIfNull(verifier);
        ArgumentNullException.ThrowIfNull(options);
        options.Validate();
        if (drafter.VocabularySize != verifier.VocabularySize)
        {
            throw new ArgumentException(
                $"drafter '{drafter.Name}' has {drafter.VocabularySize} tokens but verifier '{verifier.Name}' has {verifier.VocabularySize}; they must share a vocabulary",
                nameof(drafter));
        }

        _drafter = drafter;
        _verifier = verifier;
        _options = options;
        _vocab = verifier.VocabularySize;
        var gamma = options.Gamma;
        _verifierLogits = new float[(gamma + 1) * _vocab];
        _q = Enumerable.Range(0, gamma).Select(_ => new float[_vocab]).ToArray();
        _p = Enumerable.Range(0, gamma + 1).Select(_ => new float[_vocab]).ToArray();
        _scratch = new float[_vocab];
        _qLogits = Enumerable.Range(0, gamma).Select(_ => new float[_vocab]).ToArray();
        _qRows = new Distributions.Row[gamma];
        _pRows = new Distributions.Row[gamma + 1];
        _verifyInput = new int[gamma + 1];
        _drafts = new int[gamma];
        _alpha = new double[gamma];
        _crossEntropy = new double[gamma];
        _kl = new double[gamma];
        _stopTokens = [.. options.StopTokens];
    }

    public DecodingOptions Options => _options;

    /// <summary>
    /// Generates from <paramref name="prompt"/> (at least one token). Every step is written to <paramref name="sink"/>
    /// (when given) as a <see cref="StepTrace"/>; the caller writes the <see cref="PromptTrace"/>.
    /// </summary>
    public GenerationResult Generate(ReadOnlySpan<int> prompt, ITraceSink? sink = null, int promptIndex = 0, CancellationToken cancellationToken = default)
    {
        if (prompt.IsEmpty)
        {
            throw new ArgumentException("prompt must hold at least one token", nameof(prompt));
        }

        var contextLength = Math.Min(_drafter.ContextLength, _verifier.ContextLength);
        if (prompt.Length >= contextLength)
        {
            throw new ArgumentException($"prompt of {prompt.Length} tokens does not fit the context length {contextLength}", nameof(prompt));
        }

        var random = _options.CreateRandom(promptIndex);
        var sampling = _options.Sampling;
        var greedy = sampling.IsGreedy;

        // Sampling and the statistics read probabilities; greedy decoding without statistics only compares argmaxes.
        var needsProbabilities = !greedy || _options.ComputeStatistics;
        var output = new List<int>(Math.Min(_options.MaxNewTokens, 4096));
        var sequenceTokens = new List<int>(prompt.Length + Math.Min(_options.MaxNewTokens, 4096));
        foreach (var t in prompt)
        {
            sequenceTokens.Add(t);
        }

        var start = Stopwatch.GetTimestamp();
        using var drafterSeq = _drafter.CreateSequence();
        using var verifierSeq = _verifier.CreateSequence();

        // Prefill all but the last prompt token; no logits are read, so window models skip the call entirely.
        verifierSeq.Append(prompt[..^1], Span<float>.Empty);
        drafterSeq.Append(prompt[..^1], Span<float>.Empty);

        long drafterTicks = 0, verifierTicks = 0, sinkTicks = 0;
        int steps = 0, drafted = 0, accepted = 0;
        var stopReason = StopReason.MaxNewTokens;

        while (true)
        {
            cancellationToken.ThrowIfCancellationRequested();
            var prefixLength = sequenceTokens.Count;
            var remaining = _options.MaxNewTokens - output.Count;
            var contextRemaining = contextLength - prefixLength;
            if (remaining <= 0)
            {
                stopReason = StopReason.MaxNewTokens;
                break;
            }

            if (contextRemaining <= 0)
            {
                stopReason = StopReason.ContextLength;
                break;
            }

            if (steps >= _options.MaxSteps)
            {
                stopReason = StopReason.MaxSteps;
                break;
            }

            // A step emits at most g+1 tokens, so the draft shrinks near the token budget and the context end.
            var g = Math.Min(_options.Gamma, Math.Min(remaining, contextRemaining) - 1);

            // Draft: the drafter's first call feeds every token it has not seen yet (one or two after a full accept).
            // Only model calls are timed, so c = drafter/verifier time measures the models, not the sampler.
            long stepDrafterTicks = 0;
            var drafterCalls = 0;
            for (var i = 0; i < g; i++)
            {
                var logits = _qLogits[i].AsSpan();
                var t0 = Stopwatch.GetTimestamp();
                if (i == 0)
                {
                    var pending = System.Runtime.InteropServices.CollectionsMarshal.AsSpan(sequenceTokens)[drafterSeq.Length..];
                    drafterSeq.Append(pending, logits);
                }
                else
                {
                    drafterSeq.Append([_drafts[i - 1]], logits);
                }

                stepDrafterTicks += Stopwatch.GetTimestamp() - t0;
                drafterCalls++;
                if (needsProbabilities)
                {
                    _qRows[i] = Distributions.ToProbabilities(logits, _q[i], sampling, _scratch);
                }

                _drafts[i] = greedy ? Distributions.ArgMax(logits) : Distributions.Sample(_q[i], random);
            }

            // Verify: one call scores the last committed token and all g drafts.
            _verifyInput[0] = sequenceTokens[^1];
            _drafts.AsSpan(0, g).CopyTo(_verifyInput.AsSpan(1));
            var verifierLogits = _verifierLogits.AsSpan(0, (g + 1) * _vocab);
            var verifyStart = Stopwatch.GetTimestamp();
            verifierSeq.Append(_verifyInput.AsSpan(0, g + 1), verifierLogits);
            var stepVerifierTicks = Stopwatch.GetTimestamp() - verifyStart;
            drafterTicks += stepDrafterTicks;
            verifierTicks += stepVerifierTicks;

            // Verifier distributions at the drafted positions; the bonus row only when every draft is accepted, below.
            if (needsProbabilities)
            {
                for (var i = 0; i < g; i++)
                {
                    _pRows[i] = Distributions.ToProbabilities(verifierLogits.Slice(i * _vocab, _vocab), _p[i], sampling, _scratch);
                }
            }

            if (_options.ComputeStatistics)
            {
                for (var i = 0; i < g; i++)
                {
                    // Greedy verification accepts iff the argmaxes agree: that indicator is the exact acceptance probability.
                    _alpha[i] = greedy
                        ? (Distributions.ArgMax(verifierLogits.Slice(i * _vocab, _vocab)) == _drafts[i] ? 1.0 : 0.0)
                        : Distributions.Alpha(_p[i], _q[i], _scratch);
                    (_crossEntropy[i], _kl[i]) = Distributions.CrossEntropyAndKl(
                        _p[i], _q[i], verifierLogits.Slice(i * _vocab, _vocab), _pRows[i], _qLogits[i], _qRows[i], _scratch);
                }
            }

            // Accept/reject.
            var n = 0;
            int next;
            var bonus = false;
            while (true)
            {
                if (n == g)
                {
                    if (greedy)
                    {
                        next = Distributions.ArgMax(verifierLogits.Slice(g * _vocab, _vocab));
                    }
                    else
                    {
                        Distributions.ToProbabilities(verifierLogits.Slice(g * _vocab, _vocab), _p[g], sampling, _scratch);
                        next = Distributions.Sample(_p[g], random);
                    }

                    bonus = true;
                    break;
                }

                var x = _drafts[n];
                bool accept;
                if (greedy)
                {
                    var target = Distributions.ArgMax(verifierLogits.Slice(n * _vocab, _vocab));
                    accept = target == x;
                    if (!accept)
                    {
                        next = target;
                        break;
                    }
                }
                else
                {
                    // Accept with probability min(1, p/q), i.e. u·q(x) < p(x).
                    var px = _p[n][x];
                    var qx = _q[n][x];
                    accept = random.NextDouble() * qx < px;
                    if (!accept)
                    {
                        next = Distributions.Residual(_p[n], _q[n], _scratch)
                            ? Distributions.Sample(_scratch, random)
                            : Distributions.Sample(_p[n], random); // p ≈ q to float precision: the residual vanished.
                        break;
                    }
                }

                n++;
            }

            steps++;
            drafted += g;
            accepted += n;

            // Emit accepted drafts then the bonus/correction token; a stop token ends the output after itself.
            var emitted = 0;
            var stopped = false;
            for (var i = 0; i <= n; i++)
            {
                var token = i < n ? _drafts[i] : next;
                output.Add(token);
                sequenceTokens.Add(token);
                emitted++;
                if (_stopTokens.Contains(token))
                {
                    stopped = true;
                    break;
                }
            }

            // Rewind: the verifier keeps the prefix up to the last accepted draft; the drafter keeps what it has that is still valid.
            var committed = sequenceTokens.Count;
            verifierSeq.Truncate(Math.Min(verifierSeq.Length, committed - 1));
            drafterSeq.Truncate(Math.Min(drafterSeq.Length, committed - 1));

            if (sink is not null)
            {
                // Writing the trace (JSON + gzip + storage) is bookkeeping, not decoding: it is timed and left out of Elapsed.
                var sinkStart = Stopwatch.GetTimestamp();
                var alpha = _options.ComputeStatistics ? _alpha.AsSpan(0, g).ToArray() : [];
                sink.Write(new StepTrace
                {
                    Prompt = promptIndex,
                    Step = steps - 1,
                    Position = prefixLength,
                    Gamma = g,
                    Accepted = n,
                    Bonus = bonus,
                    Emitted = emitted,
                    Alpha = alpha,
                    CrossEntropy = _options.ComputeStatistics ? _crossEntropy.AsSpan(0, g).ToArray() : [],
                    Kl = _options.ComputeStatistics ? _kl.AsSpan(0, g).ToArray() : [],
                    DrafterMs = TicksToMs(stepDrafterTicks),
                    DrafterCalls = drafterCalls,
                    VerifierMs = TicksToMs(stepVerifierTicks),
                });
                sinkTicks += Stopwatch.GetTimestamp() - sinkStart;
            }

            if (stopped)
            {
                stopReason = StopReason.StopToken;
                break;
            }
        }

        return new GenerationResult
        {
            Tokens = [.. output],
            StopReason = stopReason,
            Steps = steps,
            Elapsed = TimeSpan.FromMilliseconds(TicksToMs(Stopwatch.GetTimestamp() - start - sinkTicks)),
            DrafterTime = TimeSpan.FromMilliseconds(TicksToMs(drafterTicks)),
            VerifierTime = TimeSpan.FromMilliseconds(TicksToMs(verifierTicks)),
            DraftedTokens = drafted,
            AcceptedTokens = accepted,
        };
    }

    internal static double TicksToMs(long ticks) => ticks * 1000.0 / Stopwatch.Frequency;
}
