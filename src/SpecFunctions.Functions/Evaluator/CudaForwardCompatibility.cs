using System.Runtime.InteropServices;

namespace SpecFunctions.Functions.Evaluator;

/// <summary>Whether this process uses NVIDIA's forward-compatibility driver libraries, which ones, and why (or why not).</summary>
/// <param name="Use">True when the driver is too old for the natives and the image carries the compatibility libraries.</param>
/// <param name="Reason">One sentence for the start-up log and the device report.</param>
/// <param name="Libraries">Paths to load, <c>libcuda.so.1</c> first and then its companions; empty unless <paramref name="Use"/>.</param>
public sealed record CudaCompatDecision(bool Use, string Reason, IReadOnlyList<string> Libraries);

/// <summary>
/// NVIDIA's CUDA forward compatibility (<c>cuda-compat-13-0</c>, installed by the image under
/// <see cref="DefaultDirectory"/>): a newer user-mode driver (<c>libcuda.so</c> and the libraries it loads) that lets the
/// CUDA 13 natives of the image run on a host whose kernel driver supports only CUDA 12.x, as Container Apps' serverless
/// GPUs document. NVIDIA supports it on data-centre GPUs only (the T4 and A100 of the serverless profiles are) and on the
/// driver branches its compatibility matrix lists. It must not replace a driver that is already new enough, so the
/// libraries are not on the loader path: the process loads them itself, by path and before ONNX Runtime's CUDA provider,
/// only when NVML reports a driver older than <see cref="GpuProbe.RequiredCudaMajor"/>. The provider's
/// <c>NEEDED libcuda.so.1</c> then resolves to the library already loaded under that soname.
/// </summary>
public static class CudaForwardCompatibility
{
    /// <summary>Where the image puts the compatibility package (the standard path, which NVIDIA's container toolkit also checks).</summary>
    public const string DefaultDirectory = "/usr/local/cuda/compat";

    /// <summary>Decides from what NVML said and what <paramref name="directory"/> holds; reads the folder, loads nothing.</summary>
    public static CudaCompatDecision Decide(GpuInfo gpu, string directory)
    {
        ArgumentNullException.ThrowIfNull(gpu);
        if (gpu.Problem is not null || gpu.DriverCudaVersion <= 0)
        {
            return new CudaCompatDecision(false, "not used: no driver CUDA version to compare", []);
        }

        if (gpu.DriverCudaVersion / 1000 >= GpuProbe.RequiredCudaMajor)
        {
            return new CudaCompatDecision(false, $"not needed: driver {gpu.DriverVersion} supports CUDA {gpu.DriverCudaText}", []);
        }

        var libraries = Libraries(directory);
        if (libraries.Count == 0 || !Path.GetFileName(libraries[0]).StartsWith("libcuda.so", StringComparison.Ordinal))
        {
            return new CudaCompatDecision(false, $"driver {gpu.DriverVersion} supports CUDA up to {gpu.DriverCudaText} and {directory} holds no forward-compatibility libcuda", []);
        }

        return new CudaCompatDecision(true,
            $"driver {gpu.DriverVersion} supports CUDA up to {gpu.DriverCudaText}; using NVIDIA's forward-compatibility driver libraries from {directory} " +
            $"({Path.GetFileName(File.ResolveLinkTarget(libraries[0], returnFinalTarget: true)?.FullName ?? libraries[0])}; data-centre GPUs only)",
            libraries);
    }

    /// <summary>
    /// The shared libraries of <paramref name="directory"/> (<c>lib*.so.*</c>), one path per real file (the soname link
    /// where there is one), <c>libcuda</c> first: the others (the PTX JIT compiler, NVVM) are loaded by libcuda by soname
    /// when it needs them, and some name libcuda themselves, so each must find the compatibility copy of the other already
    /// loaded rather than the host's older one.
    /// </summary>
    public static IReadOnlyList<string> Libraries(string directory)
    {
        if (!Directory.Exists(directory))
        {
            return [];
        }

        // Filtered by hand: the enumeration pattern "lib*.so.*" also matches the development link "libcuda.so".
        return Directory.EnumerateFiles(directory, "lib*")
            .Where(path => Path.GetFileName(path).Contains(".so.", StringComparison.Ordinal))
            .Select(path => (Path: path, Target: File.ResolveLinkTarget(path, returnFinalTarget: true)?.FullName ?? path))
            .Where(entry => File.Exists(entry.Target))
            .GroupBy(entry => entry.Target, StringComparer.Ordinal)
            .Select(group => group.OrderBy(entry => Path.GetFileName(entry.Path).Length).ThenBy(entry => entry.Path, StringComparer.Ordinal).First().Path)
            .OrderBy(path => Path.GetFileName(path).StartsWith("libcuda.so", StringComparison.Ordinal) ? 0 : 1)
            .ThenBy(path => path, StringComparer.Ordinal)
            .ToList();
    }

    /// <summary>Loads the decided libraries in order; null when all loaded, else which one failed and why.</summary>
    public static string? Load(CudaCompatDecision decision)
    {
        ArgumentNullException.ThrowIfNull(decision);
        foreach (var library in decision.Libraries)
        {
            try
            {
                NativeLibrary.Load(library);
            }
            catch (DllNotFoundException ex)
            {
                return $"the forward-compatibility library {library} did not load ({ex.Message})";
            }
            catch (BadImageFormatException ex)
            {
                return $"the forward-compatibility library {library} did not load ({ex.Message})";
            }
        }

        return null;
    }
}
