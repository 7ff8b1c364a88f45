using Microsoft.Extensions.Logging;
using SpecFunctions.OnnxGraphs;
using Xunit.Abstractions;

namespace SpecFunctions.Onnx.Tests;

// The test project references the CPU native package only, so the CUDA provider library is absent by construction.
public sealed class ExecutionProviderTests(ITestOutputHelper output) : IDisposable
{
    private readonly TempFolder _temp = new();

    public void Dispose() => _temp.Dispose();

    [Fact]
    public void Load_CudaWithCpuOnlyNatives_FallsBackToCpuWithOneWarningNamingLibrary()
    {
        var folder = TinyTransformerBuilder.WriteModelFolder(_temp.Sub("m"));
        var logger = new ListLogger();

        using var model = OnnxLanguageModel.Load(folder, new OnnxModelOptions { Device = OnnxDevice.Cuda }, logger);

        var warning = Assert.Single(logger.Entries, e => e.Level >= LogLevel.Warning);
        output.WriteLine(warning.Message);
        Assert.Equal("CPUExecutionProvider", model.ExecutionProvider);
        Assert.Equal(3001, warning.EventId.Id);
        Assert.Matches(@"missing library: [\w.+-]+\.(so|dll|dylib)", warning.Message);

        // The fallback session still computes the right thing.
        var logits = new float[model.VocabularySize];
        using var sequence = model.CreateSequence();
        sequence.Append([256, 72, 105], logits);
        var expected = TinyTransformer.Create().Forward([256, 72, 105]);
        Assert.True(Assertions.MaxAbsDiff(expected.AsSpan(2 * model.VocabularySize), logits) < 1e-4);
    }

    [Fact]
    public void Load_CudaRequiredWithCpuOnlyNatives_ThrowsNamingDeviceAndLibrary()
    {
        var folder = TinyTransformerBuilder.WriteModelFolder(_temp.Sub("m"));
        var logger = new ListLogger();

        var error = Assert.Throws<ExecutionProviderUnavailableException>(
            () => OnnxLanguageModel.Load(folder, new OnnxModelOptions { Device = OnnxDevice.Cuda, RequireDevice = true }, logger));

        output.WriteLine(error.Message);
        Assert.Equal(OnnxDevice.Cuda, error.Device);
        Assert.Matches(@"[\w.+-]+\.(so|dll|dylib)", error.MissingLibrary);
        Assert.Contains("cuda execution provider could not be loaded", error.Message);
        Assert.Contains(error.MissingLibrary, error.Message);
        Assert.DoesNotContain(logger.Entries, e => e.Level >= LogLevel.Warning);
    }

    [Theory]
    [InlineData("Failed to load library libonnxruntime_providers_cuda.so with error: libcublasLt.so.13: cannot open shared object file: No such file or directory", "libcublasLt.so.13")]
    [InlineData("/onnxruntime_src/onnxruntime/core/session/provider_bridge_ort.cc:1862 onnxruntime::Provider& onnxruntime::ProviderLibrary::Get() [ONNXRuntimeError] : 1 : FAIL : Failed to load library libonnxruntime_providers_cuda.so with error: libcudart.so.13: cannot open shared object file: No such file or directory", "libcudart.so.13")]
    [InlineData("LoadLibrary failed with error 126 when trying to load onnxruntime_providers_cuda.dll", "onnxruntime_providers_cuda.dll")]
    [InlineData("CUDA execution provider is not enabled in this build.", "unknown")]
    public void MissingLibrary_OrtMessage_NamesLibraryTheLoaderCouldNotOpen(string message, string expected) =>
        Assert.Equal(expected, OnnxSessionFactory.MissingLibrary(message));

    [Fact]
    public void Validate_NegativeThreads_ThrowsNamingOption()
    {
        var error = Assert.Throws<ArgumentOutOfRangeException>(() => new OnnxModelOptions { IntraOpThreads = -1 }.Validate());
        Assert.Equal("IntraOpThreads", error.ParamName);
    }
}
