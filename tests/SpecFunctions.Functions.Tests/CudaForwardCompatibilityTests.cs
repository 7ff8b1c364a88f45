using SpecFunctions.Functions.Evaluator;
using SpecFunctions.Onnx;

namespace SpecFunctions.Functions.Tests;

/// <summary>
/// The forward-compatibility decision and load over a folder laid out like the package's (<c>libcuda.so.1</c> and
/// <c>libcuda.so</c> links to the versioned file, companions beside it). The "driver" libraries here are copies of the
/// machine's zlib under NVIDIA's names, so loading is real; no GPU or NVIDIA driver is needed.
/// </summary>
public sealed class CudaForwardCompatibilityTests : IDisposable
{
    private static readonly GpuInfo _cuda12Driver = new("NVIDIA T4", "535.247.01", 12020, null);
    private static readonly GpuInfo _cuda13Driver = new("NVIDIA A100 80GB PCIe", "580.82.07", 13000, null);

    private readonly DirectoryInfo _compat = Directory.CreateTempSubdirectory("specfn-compat-");

    public void Dispose() => _compat.Delete(recursive: true);

    private void LayOutPackage(byte[]? libcudaBytes = null)
    {
        var zlib = File.ReadAllBytes(new[] { "/lib/x86_64-linux-gnu/libz.so.1", "/usr/lib/x86_64-linux-gnu/libz.so.1", "/lib64/libz.so.1" }.First(File.Exists));
        File.WriteAllBytes(Path.Combine(_compat.FullName, "libcuda.so.580.65.06"), libcudaBytes ?? zlib);
        File.CreateSymbolicLink(Path.Combine(_compat.FullName, "libcuda.so.1"), "libcuda.so.580.65.06");
        File.CreateSymbolicLink(Path.Combine(_compat.FullName, "libcuda.so"), "libcuda.so.1");
        File.WriteAllBytes(Path.Combine(_compat.FullName, "libnvidia-ptxjitcompiler.so.580.65.06"), zlib);
        File.CreateSymbolicLink(Path.Combine(_compat.FullName, "libnvidia-ptxjitcompiler.so.1"), "libnvidia-ptxjitcompiler.so.580.65.06");
    }

    [Fact]
    public void Libraries_OnePathPerRealFile_LibcudaFirstUnderItsSoname()
    {
        LayOutPackage();

        var libraries = CudaForwardCompatibility.Libraries(_compat.FullName).Select(Path.GetFileName);

        Assert.Equal(["libcuda.so.1", "libnvidia-ptxjitcompiler.so.1"], libraries);
    }

    [Fact]
    public void Decide_Cuda12Driver_UsesThePackageAndSaysWhichDriverItStandsIn()
    {
        LayOutPackage();

        var decision = CudaForwardCompatibility.Decide(_cuda12Driver, _compat.FullName);

        Assert.True(decision.Use);
        Assert.Equal(2, decision.Libraries.Count);
        Assert.Equal(
            $"driver 535.247.01 supports CUDA up to 12.2; using NVIDIA's forward-compatibility driver libraries from {_compat.FullName} (libcuda.so.580.65.06; data-centre GPUs only)",
            decision.Reason);
    }

    [Fact]
    public void Decide_Cuda13Driver_LeavesTheHostDriverAlone()
    {
        LayOutPackage();

        var decision = CudaForwardCompatibility.Decide(_cuda13Driver, _compat.FullName);

        Assert.False(decision.Use);
        Assert.Empty(decision.Libraries);
        Assert.Equal("not needed: driver 580.82.07 supports CUDA 13.0", decision.Reason);
    }

    [Fact]
    public void Decide_NoPackage_OrNoDriver_DoesNotUseIt()
    {
        var empty = CudaForwardCompatibility.Decide(_cuda12Driver, _compat.FullName);
        var missing = CudaForwardCompatibility.Decide(_cuda12Driver, Path.Combine(_compat.FullName, "absent"));
        var noDriver = CudaForwardCompatibility.Decide(new GpuInfo(null, null, 0, "no NVIDIA driver"), _compat.FullName);

        Assert.False(empty.Use);
        Assert.Equal($"driver 535.247.01 supports CUDA up to 12.2 and {_compat.FullName} holds no forward-compatibility libcuda", empty.Reason);
        Assert.False(missing.Use);
        Assert.False(noDriver.Use);
    }

    [Fact]
    public void Probe_Cuda12DriverWithThePackage_LoadsItAndReportsNoProblem()
    {
        LayOutPackage();
        var probe = new GpuProbe(new OnnxModelOptions { Device = OnnxDevice.Cuda }, _compat.FullName, () => _cuda12Driver);

        var device = probe.Describe("CUDAExecutionProvider");

        Assert.True(probe.Compat!.Use);
        Assert.Null(probe.CompatError);
        Assert.Null(device.Note);
        Assert.Equal("12.2", device.DriverCudaVersion);
    }

    [Fact]
    public void Probe_PackageThatDoesNotLoad_SaysSoAndThatTheCpuRuns()
    {
        LayOutPackage(libcudaBytes: "not an ELF file"u8.ToArray());
        var probe = new GpuProbe(new OnnxModelOptions { Device = OnnxDevice.Cuda }, _compat.FullName, () => _cuda12Driver);

        var note = probe.Describe("CPUExecutionProvider").Note;

        Assert.NotNull(probe.CompatError);
        Assert.StartsWith(
            $"NVIDIA driver 535.247.01 supports CUDA up to 12.2; the image's ONNX Runtime needs CUDA 13 and the forward-compatibility library {Path.Combine(_compat.FullName, "libcuda.so.1")} did not load (",
            note, StringComparison.Ordinal);
        Assert.EndsWith("), so it runs on the CPU", note, StringComparison.Ordinal);
    }

    [Fact]
    public void Probe_Cuda12DriverWithoutThePackage_NamesTheMissingLibraries()
    {
        var probe = new GpuProbe(new OnnxModelOptions { Device = OnnxDevice.Cuda }, _compat.FullName, () => _cuda12Driver);

        Assert.Equal(
            "NVIDIA driver 535.247.01 supports CUDA up to 12.2; the image's ONNX Runtime needs CUDA 13 and no forward-compatibility libraries were found in the image, so it runs on the CPU",
            probe.Describe("CPUExecutionProvider").Note);
    }

    [Fact]
    public void Probe_CpuRequested_ConsidersNoCompatibility()
    {
        LayOutPackage();
        var probe = new GpuProbe(new OnnxModelOptions { Device = OnnxDevice.Cpu }, _compat.FullName, () => _cuda12Driver);

        Assert.Null(probe.Describe("CPUExecutionProvider").Note);
        Assert.Null(probe.Compat);
    }
}
