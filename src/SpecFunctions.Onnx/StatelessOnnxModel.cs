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
    private readonly TensorElementType _logitsType;

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

        _logitsType = outputs[Logits].ElementDataType;
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
        private BoundBuffers? _bound;
        private bool _useBinding = true;
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
            if (_useBinding && model._logitsType == TensorElementType.Float)
            {
                _bound ??= new BoundBuffers(model, _runOptions);
                try
                {
                    _bound.Run(span, rows, logits);
                    return;
                }
                catch (OnnxRuntimeException)
                {
                    // A graph whose logits do not come out as [1, rows or count, V] (e.g. one that ignores logits_to_keep)
                    // cannot write into the preallocated buffer; the allocating path below copies whatever shape it returns.
                    _useBinding = false;
                    _bound.Dispose();
                    _bound = null;
                }
            }

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
                _bound?.Dispose();
                _runOptions.Dispose();
            }
        }
    }

    /// <summary>
    /// A sequence's reusable call state: pinned id and logits buffers, one tensor view over them per length in use, and an
    /// <see cref="OrtIoBinding"/> that ONNX Runtime writes the logits through, so a call allocates nothing managed or native
    /// beyond what the graph itself needs. Views are created on first use of a length and rebound only when it changes.
    /// </summary>
    private sealed class BoundBuffers : IDisposable
    {
        private readonly StatelessOnnxModel _model;
        private readonly RunOptions _runOptions;
        private readonly OrtIoBinding _binding;
        private readonly List<OrtValue> _owned = [];
        private long[] _longIds = [];
        private int[] _intIds = [];
        private float[] _logits = [];
        private OrtValue?[] _idViews = [];
        private OrtValue?[] _logitViews = [];
        private readonly long[] _keep = GC.AllocateArray<long>(1, pinned: true);
        private int _boundCount = -1;
        private int _boundRows = -1;

        public BoundBuffers(StatelessOnnxModel model, RunOptions runOptions)
        {
            _model = model;
            _runOptions = runOptions;
            _binding = model.Session.CreateIoBinding();
            if (model.FeedsLogitsToKeep)
            {
                var keep = OrtValue.CreateTensorValueFromMemory(OrtMemoryInfo.DefaultInstance, _keep.AsMemory(), []);
                _owned.Add(keep);
                _binding.BindInput(LogitsToKeepName, keep);
            }
        }

        public void Run(ReadOnlySpan<int> ids, int rows, Span<float> dest)
        {
            var count = ids.Length;
            var outRows = _model.FeedsLogitsToKeep ? rows : count;
            var vocabulary = _model.VocabularySize;
            EnsureCapacity(count, outRows * vocabulary);
            if (_model._idType == TensorElementType.Int32)
            {
                ids.CopyTo(_intIds);
            }
            else
            {
                for (var i = 0; i < ids.Length; i++)
                {
                    _longIds[i] = ids[i];
                }
            }

            _keep[0] = rows;
            if (count != _boundCount)
            {
                _binding.BindInput(InputIds, IdView(count));
                _boundCount = count;
            }

            if (outRows != _boundRows)
            {
                _binding.BindOutput(Logits, LogitView(outRows));
                _boundRows = outRows;
            }

            _model.Session.RunWithBinding(_runOptions, _binding);
            _logits.AsSpan((outRows - rows) * vocabulary, dest.Length).CopyTo(dest);
        }

        public void Dispose()
        {
            _binding.Dispose();
            foreach (var value in _owned)
            {
                value.Dispose();
            }
        }

        private void EnsureCapacity(int count, int logits)
        {
            if (count > _idViews.Length - 1)
            {
                // The views point into the old arrays; a larger buffer means new views for every length.
                var capacity = Math.Max(count, 2 * _idViews.Length);
                DisposeViews(_idViews);
                _idViews = new OrtValue?[capacity + 1];
                if (_model._idType == TensorElementType.Int32)
                {
                    _intIds = GC.AllocateArray<int>(capacity, pinned: true);
                }
                else
                {
                    _longIds = GC.AllocateArray<long>(capacity, pinned: true);
                }

                _boundCount = -1;
            }

            if (logits > _logits.Length)
            {
                DisposeViews(_logitViews);
                _logits = GC.AllocateArray<float>(Math.Max(logits, 2 * _logits.Length), pinned: true);
                _logitViews = new OrtValue?[(_logits.Length / _model.VocabularySize) + 1];
                _boundRows = -1;
            }
        }

        private OrtValue IdView(int count)
        {
            if (_idViews[count] is { } view)
            {
                return view;
            }

            long[] shape = [1, count];
            view = _model._idType == TensorElementType.Int32
                ? OrtValue.CreateTensorValueFromMemory(OrtMemoryInfo.DefaultInstance, _intIds.AsMemory(0, count), shape)
                : OrtValue.CreateTensorValueFromMemory(OrtMemoryInfo.DefaultInstance, _longIds.AsMemory(0, count), shape);
            _owned.Add(view);
            return _idViews[count] = view;
        }

        private OrtValue LogitView(int rows)
        {
            if (_logitViews[rows] is { } view)
            {
                return view;
            }

            view = OrtValue.CreateTensorValueFromMemory(
                OrtMemoryInfo.DefaultInstance, _logits.AsMemory(0, rows * _model.VocabularySize), [1, rows, _model.VocabularySize]);
            _owned.Add(view);
            return _logitViews[rows] = view;
        }

        private void DisposeViews(OrtValue?[] views)
        {
            foreach (var view in views)
            {
                if (view is not null)
                {
                    _owned.Remove(view);
                    view.Dispose();
                }
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
