using SpecFunctions.Core.Models;
using SpecFunctions.Core.Sampling;
using SpecFunctions.Core.Tracing;

namespace SpecFunctions.Core.Decoding;

/// <summary>
/// The per-prefix statistics on a task's reference prefixes (method.md §3): both models teacher-forced over
/// <c>x ⊕ y</c>, a prompt and the verifier's own continuation of it, and at every prefix <c>s = x ⊕ y_&lt;i</c> the exact
/// acceptance probability α(s), the cross-entropy −Σ p log q and KL(p‖q), under the run's sampling transforms (greedy:
/// α(s) is the indicator that the argmaxes agree, the exact acceptance probability of greedy verification, and CE and
/// KL are taken on the temperature-1 distributions, as in the engine). Untimed: the timed arms compute no statistics.
/// </summary>
/// <remarks>
/// The prefixes depend on neither γ nor the drafter's proposals, so a change of γ leaves every figure unchanged, and a
/// drafter before and after a mitigation is measured on identical prefixes. Each model scores the whole continuation
/// in a few calls (<see cref="MaxRowsPerCall"/> positions each), not one call per position.
/// </remarks>
public sealed class ReferencePass
{
    private readonly ILanguageModel _drafter;
    private readonly ILanguageModel _verifier;
    private readonly SamplingOptions _sampling;
    private readonly int _vocab;
    private readonly int _rows;
    private readonly float[] _pLogits, _qLogits, _p, _q, _scratch;

    public ReferencePass(ILanguageModel drafter, ILanguageModel verifier, SamplingOptions sampling)
    {
        ArgumentNullException.ThrowIfNull(drafter);
        ArgumentNullException.ThrowIfNull(verifier);
        ArgumentNullException.ThrowIfNull(sampling);
        if (drafter.VocabularySize != verifier.VocabularySize)
        {
            throw new ArgumentException($"drafter vocabulary {drafter.VocabularySize} ≠ verifier vocabulary {verifier.VocabularySize}", nameof(drafter));
        }

        (_drafter, _verifier, _sampling, _vocab) = (drafter, verifier, sampling, verifier.VocabularySize);
        _rows = Math.Max(1, Math.Min(MaxRowsPerCall, MaxLogitsPerCall / _vocab));
        _pLogits = new float[_rows * _vocab];
        _qLogits = new float[_rows * _vocab];
        _p = new float[_vocab];
        _q = new float[_vocab];
        _scratch = new float[_vocab];
    }

    /// <summary>Most positions one model call scores.</summary>
    public const int MaxRowsPerCall = 64;

    /// <summary>Most logits one call returns (bounds the buffers at large vocabularies: 4 M floats, 16 MB per model).</summary>
    public const int MaxLogitsPerCall = 4 << 20;

    /// <summary>
    /// The statistics at every prefix <c>prompt ⊕ continuation[..i]</c>, i = 0 … n − 1, where n is the continuation's length
    /// cut to the context both models accept. <paramref name="source"/> says whose continuation it is.
    /// </summary>
    public ReferenceTrace Run(int promptIndex, ReadOnlySpan<int> prompt, ReadOnlySpan<int> continuation, ReferenceSource source, CancellationToken cancellationToken = default)
    {
        if (prompt.IsEmpty)
        {
            throw new ArgumentException("the prompt is empty", nameof(prompt));
        }

        var context = Math.Min(_drafter.ContextLength, _verifier.ContextLength);
        var n = (int)Math.Clamp((long)context - prompt.Length + 1, 0, continuation.Length);
        var alpha = new double[n];
        var crossEntropy = new double[n];
        var kl = new double[n];
        if (n > 0)
        {
            using var drafterSeq = _drafter.CreateSequence();
            using var verifierSeq = _verifier.CreateSequence();
            verifierSeq.Append(prompt[..^1], Span<float>.Empty);
            drafterSeq.Append(prompt[..^1], Span<float>.Empty);

            // Row i is the distribution after prompt ⊕ continuation[..i]: fed by the prompt's last token, then y_0 … y_{n−2}.
            var feed = new int[n];
            feed[0] = prompt[^1];
            continuation[..(n - 1)].CopyTo(feed.AsSpan(1));
            var greedy = _sampling.IsGreedy;
            for (var start = 0; start < n; start += _rows)
            {
                cancellationToken.ThrowIfCancellationRequested();
                var rows = Math.Min(_rows, n - start);
                var pLogits = _pLogits.AsSpan(0, rows * _vocab);
                var qLogits = _qLogits.AsSpan(0, rows * _vocab);
                verifierSeq.Append(feed.AsSpan(start, rows), pLogits);
                drafterSeq.Append(feed.AsSpan(start, rows), qLogits);
                for (var r = 0; r < rows; r++)
                {
                    var pRowLogits = pLogits.Slice(r * _vocab, _vocab);
                    var qRowLogits = qLogits.Slice(r * _vocab, _vocab);
                    var pRow = Distributions.ToProbabilities(pRowLogits, _p, _sampling, _scratch);
                    var qRow = Distributions.ToProbabilities(qRowLogits, _q, _sampling, _scratch);
                    var i = start + r;
                    alpha[i] = greedy
                        ? (Distributions.ArgMax(pRowLogits) == Distributions.ArgMax(qRowLogits) ? 1.0 : 0.0)
                        : Distributions.Alpha(_p, _q, _scratch);
                    (crossEntropy[i], kl[i]) = Distributions.CrossEntropyAndKl(_p, _q, pRowLogits, pRow, qRowLogits, qRow, _scratch);
                }
            }
        }

        return new ReferenceTrace { Prompt = promptIndex, Source = source, Alpha = alpha, CrossEntropy = crossEntropy, Kl = kl };
    }
}
