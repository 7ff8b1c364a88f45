using Microsoft.ML.OnnxRuntime;
using Microsoft.ML.OnnxRuntime.Tensors;
using SpecFunctions.Core.Models;

namespace SpecFunctions.Onnx;

/// <summary>
/// Format <c>stateless</c>: <c>input_ids</c> <c>[1, L]</c> → <c>logits</c> <c>[1, L, V]</c>, each position conditioning on at most
/// <see cref="Window"/> tokens (itself and <c>Window − 1</c> before it). A sequence re-runs only the window it needs, so a call costs
/// the same at any context length.
/// </summary>
public sealed class StatelessOnnxModel : OnnxLanguageModel
{
    private const string InputIds = "input_ids";
    private const string Logits = "logits";
    private const string LogitsToKeepName = "logits_to_keep";

    private readonly TensorElementType _idType;

    private StatelessOnnxModel(ModelContext context, int window)
        : base(context)
    {
        Window = window;
        var inputs = Session.InputMetadata;
        var outputs = Session.OutputMetadata;
        if (inputs.Count != 1 || !inputs.TryGetValue(InputIds, out var ids) || !OrtTensors.IsIdType(ids.ElementDataType) || ids.Dimensions.Length != 2)
        {
            ThrowFormatMismatch($"expected one input 'input_ids' int64[1, L]; the graph has {Describe(inputs)}");
        }

        _idType = inputs[InputIds].ElementDataType;

        // An optional int64 scalar input 'logits_to_keep' (an overridable initializer, as the demo models have) lets a call
        // compute only the rows it reads instead of all Window − 1 + rows: without it a memory-bound model turns compute-bound.
        FeedsLogitsToKeep = Session.OverridableInitializerMetadata.TryGetValue(LogitsToKeepName, out var keep)
            && keep.ElementDataType == TensorElementType.Int64
            && keep.Dimensions.Length == 0;
        if (!outputs.TryGetValue(Logits, out var logits)
            || logits.ElementDataType is not (TensorElementType.Float or TensorElementType.Float16)
            || logits.Dimensions.Length != 3
            || (logits.Dimensions[2] > 0 && logits.Dimensions[2] != VocabularySize))
        {
            ThrowFormatMismatch($"expected output 'logits' float32[1, L, {VocabularySize}]; the graph has {Describe(outputs)}");
        }
    }

    internal StatelessOnnxModel(ModelContext context)
        : this(context, context.Manifest.Window ?? 0)
    {
    }

    /// <summary>Receptive field in tokens (manifest <c>window</c>).</summary>
    public int Window { get; }

    /// <summary>True when the graph has the optional <c>logits_to_keep</c> input and each call asks only for the rows it reads.</summary>
    public bool FeedsLogitsToKeep { get; }

    public override IModelSequence CreateSequence() => new Sequence(this);

    private sealed class Sequence(StatelessOnnxModel model) : IModelSequence
    {
        private static readonly string[] InputNames = [InputIds];
        private static readonly string[] InputNamesWithKeep = [InputIds, LogitsToKeepName];
        private static readonly string[] OutputNames = [Logits];

        private readonly List<int> _tokens = [];
        private readonly RunOptions _runOptions = new();
        private bool _disposed;

        public int Length => _tokens.Count;

        public void Append(ReadOnlySpan<int> tokens, Span<float> logits)
        {
            ObjectDisposedException.ThrowIf(_disposed, this);
            var rows = SequenceChecks.Rows(tokens, logits, model.VocabularySize, _tokens.Count, model.ContextLength);
            foreach (var token in tokens)
            {
                _tokens.Add(token);
            }

            if (rows == 0)
            {
                // Nothing to read: a window model keeps no state, so prefill costs nothing.
                return;
            }

            var count = Math.Min(_tokens.Count, model.Window - 1 + rows);
            var span = System.Runtime.InteropServices.CollectionsMarshal.AsSpan(_tokens)[^count..];
            using var input = OrtTensors.CreateIds(model._idType, span);
            if (model.FeedsLogitsToKeep)
            {
                using var keep = OrtValue.CreateTensorValueFromMemory(new long[] { rows }, []);
                using var kept = model.Session.Run(_runOptions, InputNamesWithKeep, [input, keep], OutputNames);
                OrtTensors.CopyLastRows(kept[0], model.VocabularySize, logits, model.ModelPath);
                return;
            }

            using var outputs = model.Session.Run(_runOptions, InputNames, [input], OutputNames);
            OrtTensors.CopyLastRows(outputs[0], model.VocabularySize, logits, model.ModelPath);
        }

        public void Truncate(int length)
        {
            ObjectDisposedException.ThrowIf(_disposed, this);
            ArgumentOutOfRangeException.ThrowIfNegative(length);
            ArgumentOutOfRangeException.ThrowIfGreaterThan(length, _tokens.Count);
            _tokens.RemoveRange(length, _tokens.Count - length);
        }

        public void Dispose()
        {
            if (!_disposed)
            {
                _disposed = true;
                _runOptions.Dispose();
            }
        }
    }
}

internal static class SequenceChecks
{
    /// <summary>Validates an <see cref="IModelSequence.Append"/> call and returns the number of logit rows requested.</summary>
    public static int Rows(ReadOnlySpan<int> tokens, Span<float> logits, int vocabularySize, int length, int contextLength)
    {
        if (logits.Length % vocabularySize != 0)
        {
            throw new ArgumentException($"logits length {logits.Length} is not a multiple of the vocabulary size {vocabularySize}", nameof(logits));
        }

        var rows = logits.Length / vocabularySize;
        if (rows > tokens.Length)
        {
            throw new ArgumentException($"asked for {rows} logit rows but appended only {tokens.Length} tokens", nameof(logits));
        }

        if (length + tokens.Length > contextLength)
        {
            throw new InvalidOperationException($"sequence would hold {length + tokens.Length} tokens, more than the model's context length {contextLength}");
        }

        foreach (var token in tokens)
        {
            if ((uint)token >= (uint)vocabularySize)
            {
                throw new ArgumentOutOfRangeException(nameof(tokens), token, $"token id outside 0..{vocabularySize - 1}");
            }
        }

        return rows;
    }
}
