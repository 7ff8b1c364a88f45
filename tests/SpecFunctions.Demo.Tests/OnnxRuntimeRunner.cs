using Microsoft.ML.OnnxRuntime;
using Microsoft.ML.OnnxRuntime.Tensors;

namespace SpecFunctions.Demo.Tests;

/// <summary>Runs an exported demo model with ONNX Runtime: <c>input_ids [1, L] → logits [1, L, 256]</c>.</summary>
internal sealed class OnnxRuntimeRunner : IDisposable
{
    private readonly InferenceSession _session;

    public OnnxRuntimeRunner(string modelPath)
    {
        using var options = new SessionOptions { IntraOpNumThreads = 1 };
        _session = new InferenceSession(modelPath, options);
    }

    public OnnxRuntimeRunner(byte[] model)
    {
        using var options = new SessionOptions { IntraOpNumThreads = 1 };
        _session = new InferenceSession(model, options);
    }

    public InferenceSession Session => _session;

    public float[] Run(ReadOnlySpan<byte> tokens, long? logitsToKeep = null)
    {
        var ids = new long[tokens.Length];
        for (var i = 0; i < ids.Length; i++)
        {
            ids[i] = tokens[i];
        }

        var input = new DenseTensor<long>(ids, [1, ids.Length]);
        var inputs = new List<NamedOnnxValue> { NamedOnnxValue.CreateFromTensor("input_ids", input) };
        if (logitsToKeep is { } keep)
        {
            inputs.Add(NamedOnnxValue.CreateFromTensor("logits_to_keep", new DenseTensor<long>(new[] { keep }, [])));
        }

        using var results = _session.Run(inputs);
        var logits = results.Single(r => r.Name == "logits").AsTensor<float>();
        var rows = logitsToKeep is > 0 ? (int)Math.Min(logitsToKeep.Value, ids.Length) : ids.Length;
        Assert.Equal([1, rows, 256], logits.Dimensions.ToArray());
        return logits.ToArray();
    }

    public void Dispose() => _session.Dispose();
}
