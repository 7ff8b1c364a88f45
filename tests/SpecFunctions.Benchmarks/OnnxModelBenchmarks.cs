using BenchmarkDotNet.Attributes;
using SpecFunctions.Core.Models;
using SpecFunctions.Onnx;
using SpecFunctions.Onnx.Testing;

namespace SpecFunctions.Benchmarks;

/// <summary>
/// Verifier cost on the decoder-with-past tiny transformer (2 layers, width 32, vocabulary 260) through ONNX Runtime on
/// the CPU, at a short and a long context: one generated token (single-position call), and one γ+1 = 5 position
/// verification call. Each invocation appends and then rewinds to <see cref="Context"/>, so the rewind's cache trim is
/// included. With the KV cache the per-token cost should grow little with context (target: 512 vs 32 ≤ ×1.5).
/// </summary>
public class OnnxModelBenchmarks
{
    private const int TokensPerInvoke = 16;
    private string _folder = null!;
    private OnnxLanguageModel _model = null!;
    private IModelSequence _sequence = null!;
    private float[] _row = null!;
    private float[] _block = null!;
    private readonly int[] _draft = [10, 20, 30, 40, 50];

    [Params(32, 512)]
    public int Context { get; set; }

    [GlobalSetup]
    public void Setup()
    {
        _folder = Path.Combine(Path.GetTempPath(), "specfn-bench-" + Guid.NewGuid().ToString("N"));
        TinyTransformerBuilder.WriteModelFolder(_folder);
        _model = OnnxLanguageModel.Load(_folder);
        _sequence = _model.CreateSequence();
        _sequence.Append(Enumerable.Range(0, Context).Select(i => i % 256).ToArray(), []);
        _row = new float[_model.VocabularySize];
        _block = new float[_draft.Length * _model.VocabularySize];
    }

    [GlobalCleanup]
    public void Cleanup()
    {
        _sequence.Dispose();
        _model.Dispose();
        Directory.Delete(_folder, recursive: true);
    }

    [Benchmark(OperationsPerInvoke = TokensPerInvoke)]
    public float GenerateOneToken()
    {
        for (var i = 0; i < TokensPerInvoke; i++)
        {
            _sequence.Append([i + 1], _row);
        }

        _sequence.Truncate(Context);
        return _row[0];
    }

    [Benchmark]
    public float VerifyFivePositions()
    {
        _sequence.Append(_draft, _block);
        _sequence.Truncate(Context);
        return _block[0];
    }
}
