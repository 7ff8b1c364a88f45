using BenchmarkDotNet.Attributes;
using SpecFunctions.Core.Models;
using SpecFunctions.Onnx;
using SpecFunctions.OnnxGraphs;

namespace SpecFunctions.Benchmarks;

/// <summary>
/// Verifier cost on the decoder-with-past tiny transformer (2 layers, width 32, vocabulary 260) through ONNX Runtime on
/// the CPU at a short (32) and a long (512) context, in one run so the Ratio column compares them: one generated token
/// (single-position call) and one γ+1 = 5 position verification call. Each invocation appends and then rewinds to its
/// context, so the rewind's cache trim is included. With the KV cache the per-token cost should grow little with context
/// (target: 512 vs 32 ≤ ×1.5).
/// </summary>
[MemoryDiagnoser]
public class OnnxModelBenchmarks
{
    private const int TokensPerInvoke = 16;
    private readonly int[] _draft = [10, 20, 30, 40, 50];
    private string _folder = null!;
    private OnnxLanguageModel _model = null!;
    private IModelSequence _short = null!;
    private IModelSequence _long = null!;
    private float[] _row = null!;
    private float[] _block = null!;

    [GlobalSetup]
    public void Setup()
    {
        _folder = Path.Combine(Path.GetTempPath(), "specfn-bench-" + Guid.NewGuid().ToString("N"));
        TinyTransformerBuilder.WriteModelFolder(_folder);
        _model = OnnxLanguageModel.Load(_folder);
        _short = Prefilled(32);
        _long = Prefilled(512);
        _row = new float[_model.VocabularySize];
        _block = new float[_draft.Length * _model.VocabularySize];
    }

    [GlobalCleanup]
    public void Cleanup()
    {
        _short.Dispose();
        _long.Dispose();
        _model.Dispose();
        Directory.Delete(_folder, recursive: true);
    }

    [Benchmark(Baseline = true, OperationsPerInvoke = TokensPerInvoke)]
    public float GenerateOneToken_Context32() => Generate(_short, 32);

    [Benchmark(OperationsPerInvoke = TokensPerInvoke)]
    public float GenerateOneToken_Context512() => Generate(_long, 512);

    [Benchmark]
    public float VerifyFivePositions_Context32() => Verify(_short, 32);

    [Benchmark]
    public float VerifyFivePositions_Context512() => Verify(_long, 512);

    private IModelSequence Prefilled(int context)
    {
        var sequence = _model.CreateSequence();
        sequence.Append(Enumerable.Range(0, context).Select(i => i % 256).ToArray(), []);
        return sequence;
    }

    private float Generate(IModelSequence sequence, int context)
    {
        for (var i = 0; i < TokensPerInvoke; i++)
        {
            sequence.Append([i + 1], _row);
        }

        sequence.Truncate(context);
        return _row[0];
    }

    private float Verify(IModelSequence sequence, int context)
    {
        sequence.Append(_draft, _block);
        sequence.Truncate(context);
        return _block[0];
    }
}
