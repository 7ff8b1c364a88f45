namespace SpecFunctions.Core.Models.Synthetic;

/// <summary>
/// Writes the next-token logits for a context (the whole prefix, oldest token first) into a row of length V.
/// Must be a pure function of the context so that rewinding and re-appending gives the same logits.
/// </summary>
public delegate void LogitsFunction(ReadOnlySpan<int> context, Span<float> logits);

/// <summary>
/// A language model defined by a pure function of the prefix: hand-built distributions for tests, simulations and
/// benchmarks. Thread-safe; each sequence keeps its own token list. Counts forward calls and rows scored.
/// </summary>
public sealed class FunctionLanguageModel(string name, int vocabularySize, LogitsFunction logits, int contextLength = int.MaxValue) : ILanguageModel
{
    private long _calls;
    private long _rows;

    public string Name { get; } = name;

    public int VocabularySize { get; } = vocabularySize > 0 ? vocabularySize : throw new ArgumentOutOfRangeException(nameof(vocabularySize));

    public int ContextLength { get; } = contextLength;

    /// <summary>Append calls that produced logits.</summary>
    public long Calls => Interlocked.Read(ref _calls);

    /// <summary>Logit rows produced.</summary>
    public long Rows => Interlocked.Read(ref _rows);

    public IModelSequence CreateSequence() => new Sequence(this);

    public void Dispose()
    {
    }

    /// <summary>A model whose next-token distribution ignores the context.</summary>
    public static FunctionLanguageModel Fixed(string name, ReadOnlySpan<double> probabilities)
    {
        var row = ToLogits(probabilities);
        return new FunctionLanguageModel(name, row.Length, (_, destination) => row.CopyTo(destination));
    }

    /// <summary>A first-order Markov model: <paramref name="transitions"/>[previous][next] are probabilities.</summary>
    public static FunctionLanguageModel Markov(string name, double[][] transitions)
    {
        var rows = transitions.Select(t => ToLogits(t)).ToArray();
        return new FunctionLanguageModel(name, rows.Length, (context, destination) => rows[context[^1]].CopyTo(destination));
    }

    /// <summary>Logits whose softmax is <paramref name="probabilities"/>; zero probability becomes a large negative logit (exp underflows to exactly 0).</summary>
    public static float[] ToLogits(ReadOnlySpan<double> probabilities)
    {
        var row = new float[probabilities.Length];
        for (var i = 0; i < row.Length; i++)
        {
            row[i] = probabilities[i] > 0 ? (float)Math.Log(probabilities[i]) : -1e30f;
        }

        return row;
    }

    private sealed class Sequence(FunctionLanguageModel model) : IModelSequence
    {
        private readonly List<int> _tokens = [];

        public int Length => _tokens.Count;

        public void Append(ReadOnlySpan<int> tokens, Span<float> logits)
        {
            var vocab = model.VocabularySize;
            var rows = logits.Length / vocab;
            if (rows * vocab != logits.Length || rows > tokens.Length)
            {
                throw new ArgumentException($"logits must hold 0..{tokens.Length} rows of {vocab}", nameof(logits));
            }

            if (_tokens.Count + tokens.Length > model.ContextLength)
            {
                throw new InvalidOperationException($"sequence would exceed the context length {model.ContextLength}");
            }

            foreach (var t in tokens)
            {
                if ((uint)t >= (uint)vocab)
                {
                    throw new ArgumentOutOfRangeException(nameof(tokens), t, $"token outside the vocabulary of {vocab}");
                }

                _tokens.Add(t);
            }

            if (rows == 0)
            {
                return;
            }

            Interlocked.Increment(ref model._calls);
            Interlocked.Add(ref model._rows, rows);
            var all = System.Runtime.InteropServices.CollectionsMarshal.AsSpan(_tokens);
            for (var r = 0; r < rows; r++)
            {
                var end = all.Length - rows + r + 1;
                model._logitsFunction(all[..end], logits.Slice(r * vocab, vocab));
            }
        }

        public void Truncate(int length)
        {
            ArgumentOutOfRangeException.ThrowIfNegative(length);
            ArgumentOutOfRangeException.ThrowIfGreaterThan(length, _tokens.Count);
            _tokens.RemoveRange(length, _tokens.Count - length);
        }

        public void Dispose()
        {
        }
    }

    private readonly LogitsFunction _logitsFunction = logits;
}
