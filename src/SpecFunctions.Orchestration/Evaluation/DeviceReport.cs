
namespace SpecFunctions.Orchestration;

/// <summary>
/// The device a task evaluation ran on, as the evaluating process saw it: the device the deployment asked for
/// (<c>SPECFN_DEVICE</c> / <c>Onnx:Device</c>), the execution provider ONNX Runtime actually used, and the NVIDIA GPU
/// and driver visible to the process (from NVML; null when there is none).
/// </summary>
public sealed record DeviceReport
{
    /// <summary>cpu | cuda.</summary>
    public required string Requested { get; init; }

    /// <summary>CPUExecutionProvider | CUDAExecutionProvider.</summary>
    public required string ExecutionProvider { get; init; }

    public string? GpuName { get; init; }
    public string? DriverVersion { get; init; }

    /// <summary>The newest CUDA version the driver supports, e.g. "12.4".</summary>
    public string? DriverCudaVersion { get; init; }

    /// <summary>Why a GPU was not used, or what is wrong with the one there (e.g. a driver too old for the CUDA libraries).</summary>
    public string? Note { get; init; }

    /// <summary>A GPU was asked for and the CPU did the work: measured at GPU prices, timed at CPU speed.</summary>
    public bool FellBackToCpu => Requested == "cuda" && ExecutionProvider != "CUDAExecutionProvider";
}
