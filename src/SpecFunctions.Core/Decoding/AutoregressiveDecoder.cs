using System.Diagnostics;
using SpecFunctions.Core.Models;
using SpecFunctions.Core.Sampling;
using SpecFunctions.Core.Tracing;

namespace SpecFunctions.Core.Decoding;

/// <summary>
/// The verifier-only baseline: one verifier call per generated token, same sampling transforms, stop tokens and
/// token budget as the speculative run, so measured speed-up = baseline time / speculative time.
/// Not thread-safe (scratch buffers); use one per concurrent generation.
/// </summary>
public sealed class AutoregressiveDecoder
{
    private readonly ILanguageModel _model;
    private readonly DecodingOptions _options;
    private readonly float[] _logits;
    private readonly float[] _probs;
    private readonly float[] _scratch;
    private readonly HashSet<int> _stopTokens;

    public AutoregressiveDecoder(ILanguageModel model, DecodingOptions options)
    {
        ArgumentNullException.ThrowIfNull(model);
        ArgumentNullException.ThrowIfNull(options);
        options.Validate();
        _model = model;
        _options = options;
        _logits = new float[model.VocabularySize];
        _probs = new float[model.VocabularySize];
        _scratch = new float[model.VocabularySize];
        _stopTokens = [.. options.StopTokens];
    }

    /// <summary>Generates from <paramref name="prompt"/>; <see cref="GenerationResult.VerifierTime"/> excludes the prefill.</summary>
    public GenerationResult Generate(ReadOnlySpan<int> prompt, int promptIndex = 0, CancellationToken cancellationToken = default)
    {
        if (prompt.IsEmpty)
        {
            throw new ArgumentException("prompt must hold at least one token", nameof(prompt));
        }

        if (prompt.Length >= _model.ContextLength)
        {
            throw new ArgumentException($"prompt of {prompt.Length} tokens does not fit the context length {_model.ContextLength}", nameof(prompt));
        }

        var random = _options.CreateRandom(promptIndex);
        var output = new List<int>(Math.Min(_options.MaxNewTokens, 4096));
        var start = Stopwatch.GetTimestamp();
        using var sequence = _model.CreateSequence();
        sequence.Append(prompt[..^1], Span<float>.Empty);
        var last = prompt[^1];
        var length = prompt.Length;
        long modelTicks = 0;
        var stopReason = StopReason.MaxNewTokens;

        while (true)
        {
            cancellationToken.ThrowIfCancellationRequested();
            if (output.Count >= _options.MaxNewTokens)
            {
                stopReason = StopReason.MaxNewTokens;
                break;
            }

            if (length >= _model.ContextLength)
            {
                stopReason = StopReason.ContextLength;
                break;
            }

            if (output.Count >= _options.MaxSteps)
            {
                stopReason = StopReason.MaxSteps;
                break;
            }

            var t0 = Stopwatch.GetTimestamp();
            sequence.Append([last], _logits);
            modelTicks += Stopwatch.GetTimestamp() - t0;

            int token;
            if (_options.Sampling.IsGreedy)
            {
                token = Distributions.ArgMax(_logits);
            }
            else
            {
                Distributions.ToProbabilities(_logits, _probs, _options.Sampling, _scratch);
                token = Distributions.Sample(_probs, random);
            }

            output.Add(token);
            last = token;
            length++;
            if (_stopTokens.Contains(token))
            {
                stopReason = StopReason.StopToken;
                break;
            }
        }

        return new GenerationResult
        {
            Tokens = [.. output],
            StopReason = stopReason,
            Steps = output.Count,
            Elapsed = Stopwatch.GetElapsedTime(start),
            VerifierTime = TimeSpan.FromMilliseconds(SpeculativeDecoder.TicksToMs(modelTicks)),
        };
    }
}
