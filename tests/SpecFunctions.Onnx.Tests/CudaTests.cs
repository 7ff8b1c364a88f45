using SpecFunctions.OnnxGraphs;
using Xunit.Abstractions;

namespace SpecFunctions.Onnx.Tests;

/// <summary>
/// Checks that need an NVIDIA GPU with CUDA 13 and cuDNN 9 and a build against the CUDA natives (<c>-p:SpecfnGpu=true</c>).
/// Trait <c>Requires=cuda</c>: <c>./test.sh</c> leaves them out; <c>scripts/gpu-check.sh</c> runs them.
/// </summary>
[Trait("Requires", "cuda")]
public sealed class CudaTests(ITestOutputHelper output) : IDisposable
{
    private static readonly OnnxModelOptions Cuda = new() { Device = OnnxDevice.Cuda, RequireDevice = true };
    private readonly TempFolder _temp = new();

    public void Dispose() => _temp.Dispose();

    [Fact]
    public void Load_CudaRequired_SessionRunsOnCudaAndTheCacheStaysInDeviceMemory()
    {
        var folder = TinyTransformerBuilder.WriteModelFolder(_temp.Sub("m"));
        using var bound = OnnxLanguageModel.Load(folder, Cuda);
        using var plain = OnnxLanguageModel.Load(folder, Cuda with { IoBinding = false });
        Assert.Equal("CUDAExecutionProvider", bound.ExecutionProvider);

        using var onDevice = bound.CreateSequence();
        using var onHost = plain.CreateSequence();
        onDevice.Append([256, 72, 105], new float[bound.VocabularySize]);
        onHost.Append([256, 72, 105], new float[plain.VocabularySize]);

        // The plain Run path gets present.* back in host memory; the bound path leaves them on the GPU.
        Assert.Equal("Cuda", DecoderWithPastOnnxModel.CacheLocation(onDevice));
        Assert.Equal("Cpu", DecoderWithPastOnnxModel.CacheLocation(onHost));
    }

    // GPU kernels (cuBLAS with TF32 by default, other reduction orders, float16 arithmetic) round differently from the
    // CPU's; the bound is set to a few float16 steps at |logit| < 8, and argmax must agree on almost every row.
    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public void RandomAppendsAndRewinds_CudaBoundPath_MatchesTheCpuRunPath(bool float16)
    {
        var folder = TinyTransformerBuilder.WriteModelFolder(_temp.Sub("m"), new TinyTransformerConfig { Float16 = float16, Layers = 3 });
        using var gpu = Assert.IsType<DecoderWithPastOnnxModel>(OnnxLanguageModel.Load(folder, Cuda));
        using var cpu = OnnxLanguageModel.Load(folder, new OnnxModelOptions { IoBinding = false });

        var (gpuLogits, gpuLength) = IoBindingTests.RandomScript(gpu, steps: 300, seed: 8);
        var (cpuLogits, cpuLength) = IoBindingTests.RandomScript(cpu, steps: 300, seed: 8);

        Assert.Equal(cpuLength, gpuLength);
        double worst = 0;
        int rows = 0, argmaxAgree = 0;
        var v = cpu.VocabularySize;
        for (var i = 0; i < cpuLogits.Count; i++)
        {
            worst = Math.Max(worst, Assertions.MaxAbsDiff(cpuLogits[i], gpuLogits[i]));
            for (var r = 0; r < cpuLogits[i].Length / v; r++)
            {
                rows++;
                argmaxAgree += Assertions.ArgMax(cpuLogits[i].AsSpan(r * v, v)) == Assertions.ArgMax(gpuLogits[i].AsSpan(r * v, v)) ? 1 : 0;
            }
        }

        output.WriteLine($"float16={float16}: worst |Δ| {worst:E2}, argmax agrees on {argmaxAgree}/{rows} rows, {gpu.DeviceCompactions} device compactions");
        Assert.True(gpu.DeviceCompactions >= 5);
        Assert.True(worst < 3e-2, $"worst |Δ| {worst:E2}");
        Assert.True(argmaxAgree >= 0.99 * rows, $"argmax agrees on {argmaxAgree}/{rows}");
    }
}
