using BenchmarkDotNet.Attributes;
using SpecFunctions.Core.Decoding;
using SpecFunctions.Core.Models;
using SpecFunctions.Core.Models.Synthetic;
using SpecFunctions.Core.Sampling;

namespace SpecFunctions.Benchmarks;

/// <summary>
/// The engine's own cost per speculative step (γ = 4): sampling transforms on γ drafter rows and γ+1
/// verifier rows, acceptance, α/CE/KL per drafted position, trace records. "NoOpModel" does no model work at all
/// (logits stay as they are); "RowCopyModel" copies one precomputed row per position (≈ a memcpy of 128 KB).
/// Each invocation runs <see cref="Steps"/> steps; results are per step.
/// </summary>
[MemoryDiagnoser]
public class EngineBenchmarks
{
    private const int Steps = 200;
    private SpeculativeDecoder _noOp = null!;
    private SpeculativeDecoder _rowCopy = null!;
    private SpeculativeDecoder _rowCopyNoStatistics = null!;
    private SpeculativeDecoder _greedy = null!;
    private readonly int[] _prompt = [1, 2, 3];

    /// <summary>32 000 (a Llama-sized vocabulary, where the row passes dominate) and 256 (the byte-level demo pair, where
    /// the per-step fixed costs do).</summary>
    [Params(256, 32000)]
    public int Vocabulary { get; set; }

    [GlobalSetup]
    public void Setup()
    {
        var options = new DecodingOptions { Gamma = 4, MaxNewTokens = int.MaxValue, MaxSteps = Steps, RecordTokens = false };
        var noOp = new NoOpModel(Vocabulary);
        _noOp = new SpeculativeDecoder(noOp, noOp, options);
        var (drafter, verifier) = SyntheticPair.Create(Vocabulary, 0.8, seed: 1);
        _rowCopy = new SpeculativeDecoder(drafter, verifier, options);
        _rowCopyNoStatistics = new SpeculativeDecoder(drafter, verifier, options with { ComputeStatistics = false });
        _greedy = new SpeculativeDecoder(drafter, verifier, options with { Sampling = SamplingOptions.Greedy });
    }

    [Benchmark(OperationsPerInvoke = Steps, Baseline = true)]
    public int NoOpModel_Sampling() => _noOp.Generate(_prompt, new CountingSink()).Steps;

    [Benchmark(OperationsPerInvoke = Steps)]
    public int RowCopyModel_Sampling() => _rowCopy.Generate(_prompt, new CountingSink()).Steps;

    [Benchmark(OperationsPerInvoke = Steps)]
    public int RowCopyModel_Sampling_NoStatistics() => _rowCopyNoStatistics.Generate(_prompt, new CountingSink()).Steps;

    [Benchmark(OperationsPerInvoke = Steps)]
    public int RowCopyModel_Greedy() => _greedy.Generate(_prompt, new CountingSink()).Steps;

    private sealed class CountingSink : SpecFunctions.Core.Tracing.ITraceSink
    {
        public int Count { get; private set; }

        public void Write(SpecFunctions.Core.Tracing.TraceRecord record) => Count++;
    }

    /// <summary>A model that costs nothing: it tracks the length and leaves the logits buffer untouched.</summary>
    private sealed class NoOpModel(int vocabulary) : ILanguageModel
    {
        public string Name => "no-op";

        public int VocabularySize => vocabulary;

        public int ContextLength => int.MaxValue;

        public IModelSequence CreateSequence() => new Sequence();

        public void Dispose()
        {
        }

        private sealed class Sequence : IModelSequence
        {
            public int Length { get; private set; }

            public void Append(ReadOnlySpan<int> tokens, Span<float> logits) => Length += tokens.Length;

            public void Truncate(int length) => Length = length;

            public void Dispose()
            {
            }
        }
    }
}
