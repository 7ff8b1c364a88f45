using System.Text.RegularExpressions;
using Microsoft.Extensions.Logging;
using Microsoft.ML.OnnxRuntime;

namespace SpecFunctions.Onnx;

/// <summary>Creates sessions on the requested execution provider, falling back to the CPU when it cannot be loaded.</summary>
internal static partial class OnnxSessionFactory
{
    public const string CpuProvider = "CPUExecutionProvider";
    public const string CudaProvider = "CUDAExecutionProvider";

    public static (InferenceSession Session, string ExecutionProvider) Create(string modelPath, OnnxModelOptions options, ILogger logger)
    {
        if (options.Device == OnnxDevice.Cuda)
        {
            using var cudaOptions = CreateOptions(options);
            Exception? failure = null;
            try
            {
                cudaOptions.AppendExecutionProvider_CUDA(options.DeviceId);
            }
            catch (Exception ex) when (IsProviderLoadFailure(ex))
            {
                failure = ex;
            }

            if (failure is null)
            {
                try
                {
                    return (new InferenceSession(modelPath, cudaOptions), CudaProvider);
                }
                catch (OnnxRuntimeException ex) when (MentionsDevice(ex.Message))
                {
                    // The provider library loaded but the session could not be placed on it (e.g. cuDNN missing).
                    failure = ex;
                }
                catch (OnnxRuntimeException ex)
                {
                    throw new ModelLoadException(modelPath, $"ONNX Runtime could not load the model: {ex.Message}", ex);
                }
            }

            var missing = failure is EntryPointNotFoundException
                ? CpuOnlyNativesMissing()
                : MissingLibrary(failure.Message);
            if (options.RequireDevice)
            {
                throw new ExecutionProviderUnavailableException(modelPath, options.Device, missing, failure);
            }

            logger.DeviceFallback(options.Device.ToString().ToLowerInvariant(), modelPath, missing, failure.Message);
        }

        using var cpuOptions = CreateOptions(options);
        try
        {
            return (new InferenceSession(modelPath, cpuOptions), CpuProvider);
        }
        catch (OnnxRuntimeException ex)
        {
            throw new ModelLoadException(modelPath, $"ONNX Runtime could not load the model: {ex.Message}", ex);
        }
    }

    /// <summary>
    /// A session for a small helper graph (e.g. the KV-cache compaction) on the provider a model's session already uses,
    /// so the helper reads and writes that session's device memory. No fallback: the provider loaded once already.
    /// </summary>
    public static InferenceSession CreateOnProvider(byte[] model, string executionProvider, OnnxModelOptions options)
    {
        using var sessionOptions = CreateOptions(options);
        if (executionProvider == CudaProvider)
        {
            sessionOptions.AppendExecutionProvider_CUDA(options.DeviceId);
        }

        return new InferenceSession(model, sessionOptions);
    }

    /// <summary>
    /// Memory of the device a session on <paramref name="executionProvider"/> computes in: CUDA device memory, or the CPU's.
    /// The caller disposes a CUDA one; <see cref="OrtMemoryInfo.DefaultInstance"/> is shared and must not be disposed.
    /// </summary>
    public static OrtMemoryInfo DeviceMemory(string executionProvider, int deviceId) =>
        executionProvider == CudaProvider
            ? new OrtMemoryInfo(OrtMemoryInfo.allocatorCUDA, OrtAllocatorType.DeviceAllocator, deviceId, OrtMemType.Default)
            : OrtMemoryInfo.DefaultInstance;

    /// <summary>
    /// The shared library an ONNX Runtime load error names: the one the dynamic loader could not open when stated,
    /// else the last library named, else <c>unknown</c>.
    /// </summary>
    public static string MissingLibrary(string message)
    {
        var cannotOpen = CannotOpenRegex().Match(message);
        if (cannotOpen.Success)
        {
            return cannotOpen.Groups[1].Value;
        }

        var any = LibraryRegex().Matches(message);
        return any.Count > 0 ? any[^1].Value : "unknown";
    }

    // The CPU-only native package exports no CUDA entry point at all: what is missing is the provider library that the
    // GPU package (Microsoft.ML.OnnxRuntime.Gpu.Linux / .Gpu.Windows) ships.
    private static string CpuOnlyNativesMissing() =>
        (OperatingSystem.IsWindows() ? "onnxruntime_providers_cuda.dll" : "libonnxruntime_providers_cuda.so")
        + " (the ONNX Runtime native package in use is CPU-only)";

    private static SessionOptions CreateOptions(OnnxModelOptions options)
    {
        var sessionOptions = new SessionOptions
        {
            GraphOptimizationLevel = options.GraphOptimizationLevel,

            // ONNX Runtime warns on every optional input with a default (the demo graphs' logits_to_keep); errors still surface.
            LogSeverityLevel = OrtLoggingLevel.ORT_LOGGING_LEVEL_ERROR,
        };
        sessionOptions.IntraOpNumThreads = options.EffectiveIntraOpThreads;

        return sessionOptions;
    }

    private static bool IsProviderLoadFailure(Exception ex) =>
        ex is OnnxRuntimeException or DllNotFoundException or EntryPointNotFoundException or NotSupportedException;

    private static bool MentionsDevice(string message) =>
        message.Contains("CUDA", StringComparison.OrdinalIgnoreCase)
        || message.Contains("cudnn", StringComparison.OrdinalIgnoreCase)
        || message.Contains("shared library", StringComparison.OrdinalIgnoreCase);

    [GeneratedRegex(@"([\w.+-]+\.so[\w.]*|[\w.+-]+\.dll|[\w.+-]+\.dylib): cannot open shared object file")]
    private static partial Regex CannotOpenRegex();

    [GeneratedRegex(@"[\w+-]+(\.so(\.\d+)*|\.dll|\.dylib)\b")]
    private static partial Regex LibraryRegex();
}
