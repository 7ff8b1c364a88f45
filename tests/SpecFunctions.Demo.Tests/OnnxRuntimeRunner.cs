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

    public float[] Run(ReadOnlySpan<byte> tokens)
    {
        var ids = new long[tokens.Length];
        for (var i = 0; i < ids.Length; i++)
        {
            ids[i] = tokens[i];
        }

        var input = new DenseTensor<long>(ids, [1, ids.Length]);
        using var results = _session.Run([NamedOnnxValue.CreateFromTensor("input_ids", input)]);
        var logits = results.Single(r => r.Name == "logits").AsTensor<float>();
        Assert.Equal([1, ids.Length, 256], logits.Dimensions.ToArray());
        return logits.ToArray();
    }

    public void Dispose() => _session.Dispose();
}
