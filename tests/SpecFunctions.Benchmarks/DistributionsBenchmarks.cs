using BenchmarkDotNet.Attributes;
using SpecFunctions.Core.Sampling;

namespace SpecFunctions.Benchmarks;

/// <summary>
/// The engine's per-row primitives at the demo pair's byte vocabulary (256) and a Llama-sized one (32 000): what one
/// drafted position costs the engine (softmax of a drafter and a verifier row, α, cross-entropy/KL, one sample).
/// </summary>
public class DistributionsBenchmarks
{
    private float[] _pLogits = null!;
    private float[] _qLogits = null!;
    private float[] _p = null!;
    private float[] _q = null!;
    private float[] _scratch = null!;
    private readonly Random _random = new(1);
    private readonly SamplingOptions _sampling = new() { Temperature = 1.0 };

    [Params(256, 32000)]
    public int Vocabulary { get; set; }

    [GlobalSetup]
    public void Setup()
    {
        var random = new Random(7);
        _pLogits = [.. Enumerable.Range(0, Vocabulary).Select(_ => (float)(random.NextDouble() * 8))];
        _qLogits = [.. _pLogits.Select(x => x + (float)random.NextDouble())];
        _p = new float[Vocabulary];
        _q = new float[Vocabulary];
        _scratch = new float[Vocabulary];
        Distributions.ToProbabilities(_pLogits, _p, _sampling);
        Distributions.ToProbabilities(_qLogits, _q, _sampling);
    }

    [Benchmark(Baseline = true)]
    public float ToProbabilities() => Distributions.ToProbabilities(_pLogits, _p, _sampling, _scratch).Max;

    [Benchmark]
    public double Alpha() => Distributions.Alpha(_p, _q, _scratch);

    [Benchmark]
    public double CrossEntropyAndKl()
    {
        var pRow = new Distributions.Row(_pLogits.Max(), 1, 0, false);
        return Distributions.CrossEntropyAndKl(_p, _q, _pLogits, pRow, _qLogits, pRow, _scratch).Kl;
    }

    [Benchmark]
    public int Sample() => Distributions.Sample(_p, _random);
}
