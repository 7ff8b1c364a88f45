using System.Diagnostics;
using SpecFunctions.Core.Models;

namespace SpecFunctions.TestKit;

/// <summary>
/// A quick, BenchmarkDotNet-free measurement of what one generated token costs a model at a given context length
/// (for a decoder-with-past model it should barely grow with context: the cache is reused, not recomputed).
/// </summary>
public static class DecodingCostProbe
{
    /// <summary>
    /// Prefills <paramref name="context"/> tokens, then appends <paramref name="tokens"/> single tokens (reading their logits)
    /// and rewinds to <paramref name="context"/>, <paramref name="repeats"/> times after one warm-up round.
    /// Returns the median over rounds of the wall time per generated token, rewind included (the median shrugs off rounds
    /// slowed by other processes on a shared machine).
    /// </summary>
    public static TimeSpan MeasurePerToken(ILanguageModel model, int context, int tokens = 32, int repeats = 5, int seed = 1)
    {
        ArgumentNullException.ThrowIfNull(model);
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(context);
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(tokens);
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(repeats);
        if (context + tokens > model.ContextLength)
        {
            throw new ArgumentException($"context {context} + {tokens} tokens exceed the model's context length {model.ContextLength}", nameof(context));
        }

        var random = new Random(seed);
        var prompt = Enumerable.Range(0, context).Select(_ => random.Next(0, Math.Min(256, model.VocabularySize))).ToArray();
        var logits = new float[model.VocabularySize];
        using var sequence = model.CreateSequence();
        sequence.Append(prompt, []);

        var rounds = new List<TimeSpan>(repeats);
        for (var round = 0; round <= repeats; round++)
        {
            var stopwatch = Stopwatch.StartNew();
            var next = prompt[^1];
            for (var i = 0; i < tokens; i++)
            {
                sequence.Append([next], logits);
                next = ArgMax(logits);
            }

            sequence.Truncate(context);
            stopwatch.Stop();
            if (round > 0)
            {
                rounds.Add(stopwatch.Elapsed / tokens);
            }
        }

        rounds.Sort();
        return rounds[rounds.Count / 2];
    }

    private static int ArgMax(ReadOnlySpan<float> row)
    {
        var best = 0;
        for (var i = 1; i < row.Length; i++)
        {
            if (row[i] > row[best])
            {
                best = i;
            }
        }

        return best;
    }
}
