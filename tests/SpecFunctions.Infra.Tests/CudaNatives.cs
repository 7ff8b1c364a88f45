namespace SpecFunctions.Infra.Tests;

/// <summary>
/// The CUDA libraries the image's ONNX Runtime natives (Microsoft.ML.OnnxRuntime.Gpu.Linux 1.31.0) need: what the
/// publish output's CUDA provider links (read from its ELF dynamic section by <see cref="FunctionsPublishTests"/>) and
/// what it loads on demand, which the Dockerfile must carry (<see cref="DockerfileTests"/>).
/// </summary>
internal static class CudaNatives
{
    /// <summary>The driver's user-mode library: the GPU host injects it, or the forward-compatibility package stands in.</summary>
    public const string Driver = "libcuda.so.1";

    /// <summary>DT_NEEDED of libonnxruntime_providers_cuda.so besides the C runtime, in file order: the CUDA 13 build.</summary>
    public static readonly string[] LinkedByProvider = ["libcublasLt.so.13", "libcublas.so.13", "libcurand.so.10", "libcudart.so.13", Driver];

    /// <summary>Loaded with dlopen when an operator needs them: cuDNN 9 (and its sub-libraries), cuFFT, NVRTC.</summary>
    public static readonly string[] LoadedOnDemand = ["libcudnn", "libcufft.so.12", "libnvrtc.so.13", "libnvrtc-builtins.so.13"];

    /// <summary>What the image itself must copy: everything above but the driver.</summary>
    public static IEnumerable<string> ImageCarries => LinkedByProvider.Where(l => l != Driver).Concat(LoadedOnDemand);
}
