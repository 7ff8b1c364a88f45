namespace SpecFunctions.Demo;

/// <summary>
/// Reference forward pass of a demo model in C#: what the exported ONNX graph computes, and what the trainer
/// optimises. Not thread-safe (it reuses one buffer); create one per thread.
/// </summary>
public sealed class DemoModel
{
    private const int BatchCapacity = 64;
    private readonly MlpWorkspace _workspace;
    private readonly int[] _windows;

    /// <summary>Wraps <paramref name="weights"/> (not copied: later changes to them show through).</summary>
    public DemoModel(DemoModelWeights weights)
    {
        ArgumentNullException.ThrowIfNull(weights);
        Weights = weights;
        _workspace = new MlpWorkspace(weights, BatchCapacity, withGradients: false);
        _windows = new int[BatchCapacity * weights.Config.Window];
    }

    /// <summary>The parameters.</summary>
    public DemoModelWeights Weights { get; }

    /// <summary>Bytes of context each prediction conditions on.</summary>
    public int Window => Weights.Config.Window;

    /// <summary>
    /// Next-byte logits (256, natural-log scale) after <paramref name="context"/>; only its last <see cref="Window"/>
    /// bytes matter, positions before its start are the pad id.
    /// </summary>
    public float[] Forward(ReadOnlySpan<byte> context)
    {
        var logits = new float[DemoModelConfig.VocabularySize];
        Forward(context, logits);
        return logits;
    }

    /// <summary>Writes the next-byte logits after <paramref name="context"/> into <paramref name="logits"/> (256).</summary>
    public void Forward(ReadOnlySpan<byte> context, Span<float> logits)
    {
        if (logits.Length != DemoModelConfig.VocabularySize)
        {
            throw new ArgumentException($"Logits must have {DemoModelConfig.VocabularySize} entries, got {logits.Length}.", nameof(logits));
        }

        MlpWorkspace.FillWindow(context, _windows.AsSpan(0, Window));
        _workspace.Forward(_windows, 1);
        _workspace.Logits.AsSpan(0, DemoModelConfig.VocabularySize).CopyTo(logits);
    }

    /// <summary>
    /// Logits for every position of <paramref name="text"/>: row t (of <c>text.Length</c>) is the distribution of the
    /// byte after <c>text[..(t+1)]</c>, as the ONNX graph's rows. Row-major <c>[text.Length, 256]</c>.
    /// </summary>
    public float[] ForwardAll(ReadOnlySpan<byte> text)
    {
        var v = DemoModelConfig.VocabularySize;
        var result = new float[text.Length * v];
        for (var start = 0; start < text.Length; start += BatchCapacity)
        {
            var count = Math.Min(BatchCapacity, text.Length - start);
            for (var i = 0; i < count; i++)
            {
                MlpWorkspace.FillWindow(text[..(start + i + 1)], _windows.AsSpan(i * Window, Window));
            }

            _workspace.Forward(_windows, count);
            _workspace.Logits.AsSpan(0, count * v).CopyTo(result.AsSpan(start * v));
        }

        return result;
    }
}
