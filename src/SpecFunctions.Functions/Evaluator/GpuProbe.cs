using System.Globalization;
using System.Runtime.InteropServices;
using System.Text;
using SpecFunctions.Onnx;
using SpecFunctions.Orchestration;

namespace SpecFunctions.Functions.Evaluator;

/// <summary>What NVML says about the first NVIDIA GPU visible to this process, or why there is none.</summary>
/// <param name="DriverCudaVersion">The newest CUDA the driver supports, as NVML encodes it (12040 = 12.4); 0 when unknown.</param>
public sealed record GpuInfo(string? Name, string? DriverVersion, int DriverCudaVersion, string? Problem)
{
    /// <summary>"12.4" for 12040.</summary>
    public string? DriverCudaText => DriverCudaVersion > 0
        ? string.Create(CultureInfo.InvariantCulture, $"{DriverCudaVersion / 1000}.{DriverCudaVersion % 1000 / 10}")
        : null;
}

/// <summary>
/// Reads the GPU name, driver version and the driver's CUDA version through NVML (<c>libnvidia-ml.so.1</c>, which the
/// NVIDIA container runtime mounts with the driver), once per process; when a GPU is requested and the driver is older
/// than the natives need, loads NVIDIA's forward-compatibility driver libraries from the image
/// (<see cref="CudaForwardCompatibility"/>); and says plainly when neither works (ONNX Runtime's CUDA provider would
/// not load and the CPU would do the work).
/// </summary>
public sealed class GpuProbe
{
    /// <summary>
    /// The CUDA major version ONNX Runtime's GPU natives in the image are built for: Microsoft.ML.OnnxRuntime.Gpu.Linux
    /// 1.31.0 links libcudart.so.13 (every version the registry serves, 1.30.0 to 1.32.0, does; none links CUDA 12).
    /// A driver whose CUDA version is older needs the forward-compatibility libraries. docs/deploy.md.
    /// </summary>
    public const int RequiredCudaMajor = 13;

    /// <summary>What the CUDA natives need at run time, as the start-up log states it.</summary>
    public const string NativesNeed =
        "ONNX Runtime's CUDA provider is built for CUDA 13 (libcudart.so.13, libcublas.so.13, libcublasLt.so.13, libcurand.so.10, libcufft.so.12) and cuDNN 9 (libcudnn.so.9)";

    private readonly OnnxModelOptions _onnx;
    private readonly string _compatDirectory;
    private readonly Lazy<(GpuInfo Gpu, CudaCompatDecision? Compat, string? CompatError)> _state;

    /// <summary>A probe whose forward-compatibility libraries are looked for in <see cref="CudaForwardCompatibility.DefaultDirectory"/>.</summary>
    public GpuProbe(OnnxModelOptions onnx)
        : this(onnx, CudaForwardCompatibility.DefaultDirectory, Query)
    {
    }

    /// <summary>A probe over a given GPU reading and compatibility folder (tests).</summary>
    internal GpuProbe(OnnxModelOptions onnx, string compatDirectory, Func<GpuInfo> query)
    {
        _onnx = onnx;
        _compatDirectory = compatDirectory;
        _state = new(() => Initialise(query()), LazyThreadSafetyMode.ExecutionAndPublication);
    }

    public GpuInfo Gpu => _state.Value.Gpu;

    /// <summary>The forward-compatibility decision when a GPU was requested (null for the CPU), taken once.</summary>
    public CudaCompatDecision? Compat => _state.Value.Compat;

    /// <summary>Why the decided forward-compatibility libraries did not load, or null.</summary>
    public string? CompatError => _state.Value.CompatError;

    private (GpuInfo, CudaCompatDecision?, string?) Initialise(GpuInfo gpu)
    {
        if (_onnx.Device != OnnxDevice.Cuda)
        {
            return (gpu, null, null);
        }

        var decision = CudaForwardCompatibility.Decide(gpu, _compatDirectory);
        return (gpu, decision, decision.Use ? CudaForwardCompatibility.Load(decision) : null);
    }

    /// <summary>The device report of an evaluation that ran on <paramref name="executionProvider"/>.</summary>
    public DeviceReport Describe(string? executionProvider)
    {
        var gpu = Gpu;
        var requested = _onnx.Device == OnnxDevice.Cuda ? "cuda" : "cpu";
        return new DeviceReport
        {
            Requested = requested,
            ExecutionProvider = executionProvider ?? "unknown",
            GpuName = gpu.Name,
            DriverVersion = gpu.DriverVersion,
            DriverCudaVersion = gpu.DriverCudaText,
            Note = requested == "cuda" ? DriverProblem(gpu, Compat, CompatError) : null,
        };
    }

    /// <summary>Why a GPU run cannot work on this machine, or null when the driver is recent enough (no forward compatibility considered).</summary>
    public static string? DriverProblem(GpuInfo gpu) => DriverProblem(gpu, null, null);

    /// <summary>
    /// Why a GPU run cannot work on this machine, or null when the driver is recent enough or the forward-compatibility
    /// libraries were loaded in its place.
    /// </summary>
    public static string? DriverProblem(GpuInfo gpu, CudaCompatDecision? compat, string? compatError)
    {
        ArgumentNullException.ThrowIfNull(gpu);
        if (gpu.Problem is not null)
        {
            return gpu.Problem;
        }

        if (gpu.DriverCudaVersion > 0 && gpu.DriverCudaVersion / 1000 < RequiredCudaMajor)
        {
            var tooOld = $"NVIDIA driver {gpu.DriverVersion} supports CUDA up to {gpu.DriverCudaText}; the image's ONNX Runtime needs CUDA {RequiredCudaMajor}";
            return compat switch
            {
                null => $"{tooOld}, so it runs on the CPU",
                { Use: true } when compatError is null => null,
                { Use: true } => $"{tooOld} and {compatError}, so it runs on the CPU",
                _ => $"{tooOld} and no forward-compatibility libraries were found in the image, so it runs on the CPU",
            };
        }

        return null;
    }

    private static GpuInfo Query()
    {
        try
        {
            var status = Nvml.Init();
            if (status != 0)
            {
                return new GpuInfo(null, null, 0, $"NVML found but not initialised (nvmlInit error {status}): no usable NVIDIA driver");
            }

            try
            {
                var driver = ReadString((buffer, length) => Nvml.SystemGetDriverVersion(buffer, length));
                _ = Nvml.SystemGetCudaDriverVersion(out var cuda);
                string? name = null;
                if (Nvml.DeviceGetCount(out var count) == 0 && count > 0 && Nvml.DeviceGetHandleByIndex(0, out var device) == 0)
                {
                    name = ReadString((buffer, length) => Nvml.DeviceGetName(device, buffer, length));
                }

                return new GpuInfo(name, driver, cuda, name is null ? $"NVIDIA driver {driver} but no GPU visible to this process" : null);
            }
            finally
            {
                _ = Nvml.Shutdown();
            }
        }
        catch (Exception ex) when (ex is DllNotFoundException or EntryPointNotFoundException or BadImageFormatException)
        {
            return new GpuInfo(null, null, 0, "no NVIDIA driver visible to this process (libnvidia-ml.so.1 not found)");
        }
    }

    private static string? ReadString(Func<byte[], uint, int> call)
    {
        var buffer = new byte[256];
        if (call(buffer, (uint)buffer.Length) != 0)
        {
            return null;
        }

        var end = Array.IndexOf(buffer, (byte)0);
        return Encoding.UTF8.GetString(buffer, 0, end < 0 ? buffer.Length : end);
    }

    /// <summary>The few NVML calls needed (nvml.h); each returns 0 on success.</summary>
    private static class Nvml
    {
        private const string Library = "libnvidia-ml.so.1";

        [DllImport(Library, EntryPoint = "nvmlInit_v2")]
        public static extern int Init();

        [DllImport(Library, EntryPoint = "nvmlShutdown")]
        public static extern int Shutdown();

        [DllImport(Library, EntryPoint = "nvmlSystemGetDriverVersion")]
        public static extern int SystemGetDriverVersion(byte[] version, uint length);

        [DllImport(Library, EntryPoint = "nvmlSystemGetCudaDriverVersion_v2")]
        public static extern int SystemGetCudaDriverVersion(out int version);

        [DllImport(Library, EntryPoint = "nvmlDeviceGetCount_v2")]
        public static extern int DeviceGetCount(out uint count);

        [DllImport(Library, EntryPoint = "nvmlDeviceGetHandleByIndex_v2")]
        public static extern int DeviceGetHandleByIndex(uint index, out IntPtr device);

        [DllImport(Library, EntryPoint = "nvmlDeviceGetName")]
        public static extern int DeviceGetName(IntPtr device, byte[] name, uint length);
    }
}
