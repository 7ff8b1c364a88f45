using Microsoft.ML.OnnxRuntime;

namespace SpecFunctions.Onnx;

/// <summary>Where a model runs.</summary>
public enum OnnxDevice
{
    /// <summary>The CPU execution provider (always available).</summary>
    Cpu,

    /// <summary>The CUDA execution provider (needs the GPU native package, CUDA 13 and cuDNN 9).</summary>
    Cuda,
}

/// <summary>How an <see cref="OnnxLanguageModel"/> creates its ONNX Runtime session.</summary>
public sealed record OnnxModelOptions
{
    /// <summary>Requested device. Default <see cref="OnnxDevice.Cpu"/>.</summary>
    public OnnxDevice Device { get; init; } = OnnxDevice.Cpu;

    /// <summary>
    /// When true, a <see cref="Device"/> that cannot be loaded is an error (<see cref="ExecutionProviderUnavailableException"/>);
    /// when false (default) the model falls back to the CPU with one warning.
    /// </summary>
    public bool RequireDevice { get; init; }

    /// <summary>CUDA device ordinal. Default 0.</summary>
    public int DeviceId { get; init; }

    /// <summary>Threads ONNX Runtime uses inside one operator; 0 (default) lets ONNX Runtime choose (one per physical core).</summary>
    public int IntraOpThreads { get; init; }

    /// <summary>
    /// Decoder-with-past models: run each call through an ONNX Runtime IO binding that leaves the <c>present.*</c> outputs in
    /// the memory of the session's device and feeds them back as the next <c>past_key_values</c>, so only the requested
    /// logits are copied to the host (on CUDA the whole KV cache otherwise travels device → host → device on every call).
    /// Rewinds compact the cache on the same device. On the CPU provider the same code path binds to CPU memory. Default
    /// true; false selects the plain <c>Run</c> path (outputs returned in host memory), kept for comparison.
    /// </summary>
    public bool IoBinding { get; init; } = true;

    /// <summary>
    /// Compact a host-resident cache (the CPU provider) with the device-side <c>Gather</c> session as on a GPU, instead of
    /// copying the kept rows on the host, which is cheaper there (docs/benchmarks.md, issue 15). For the tests of the
    /// device path on machines without a GPU. Default false.
    /// </summary>
    internal bool CompactHostCacheOnDevice { get; init; }

    /// <summary>Graph optimisation level. Default <see cref="GraphOptimizationLevel.ORT_ENABLE_ALL"/>.</summary>
    public GraphOptimizationLevel GraphOptimizationLevel { get; init; } = GraphOptimizationLevel.ORT_ENABLE_ALL;

    public static OnnxModelOptions Default { get; } = new();

    /// <summary>Throws <see cref="ArgumentOutOfRangeException"/> naming the first invalid option.</summary>
    public void Validate()
    {
        if (!Enum.IsDefined(Device))
        {
            throw new ArgumentOutOfRangeException(nameof(Device), Device, "device must be cpu or cuda");
        }

        if (DeviceId < 0)
        {
            throw new ArgumentOutOfRangeException(nameof(DeviceId), DeviceId, "device id must be >= 0");
        }

        if (IntraOpThreads < 0)
        {
            throw new ArgumentOutOfRangeException(nameof(IntraOpThreads), IntraOpThreads, "intra-op threads must be >= 0 (0 = ONNX Runtime default)");
        }
    }
}
