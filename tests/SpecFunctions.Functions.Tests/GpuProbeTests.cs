using SpecFunctions.Functions.Evaluator;
using SpecFunctions.Onnx;
using SpecFunctions.Orchestration;

namespace SpecFunctions.Functions.Tests;

public sealed class GpuProbeTests
{
    [Theory]
    [InlineData(12020, "535.104.05", "NVIDIA driver 535.104.05 supports CUDA up to 12.2; the image's ONNX Runtime needs CUDA 13, so it runs on the CPU")]
    [InlineData(12090, "575.51", "NVIDIA driver 575.51 supports CUDA up to 12.9; the image's ONNX Runtime needs CUDA 13, so it runs on the CPU")]
    [InlineData(13000, "580.65", null)]
    [InlineData(13010, "590.10", null)]
    public void DriverProblem_DriverCudaVersion_TooOldBelowCuda13(int cuda, string driver, string? expected) =>
        Assert.Equal(expected, GpuProbe.DriverProblem(new GpuInfo("NVIDIA A100 80GB PCIe", driver, cuda, null)));

    [Fact]
    public void Describe_OnThisMachine_CudaRequestedCpuProvider_FellBackWithTheReason()
    {
        // The build machines have no NVIDIA driver: NVML is absent, which the probe must say rather than throw.
        var probe = new GpuProbe(new OnnxModelOptions { Device = OnnxDevice.Cuda });

        var device = probe.Describe("CPUExecutionProvider");

        Assert.Equal("cuda", device.Requested);
        Assert.Equal("CPUExecutionProvider", device.ExecutionProvider);
        Assert.True(device.FellBackToCpu);
        if (probe.Gpu.Name is null)
        {
            Assert.Null(device.GpuName);
            Assert.NotNull(device.Note);
            Assert.Matches("no NVIDIA driver|no GPU visible|not initialised", device.Note);
        }
    }

    [Theory]
    [InlineData(OnnxDevice.Cpu, "CPUExecutionProvider", false)]
    [InlineData(OnnxDevice.Cuda, "CUDAExecutionProvider", false)]
    [InlineData(OnnxDevice.Cuda, "CPUExecutionProvider", true)]
    public void Describe_RequestedAndUsed_FallbackOnlyWhenGpuAskedAndCpuUsed(OnnxDevice requested, string provider, bool fellBack)
    {
        var device = new GpuProbe(new OnnxModelOptions { Device = requested }).Describe(provider);

        Assert.Equal(fellBack, device.FellBackToCpu);
        Assert.Equal(requested == OnnxDevice.Cuda ? "cuda" : "cpu", device.Requested);
        if (requested == OnnxDevice.Cpu)
        {
            Assert.Null(device.Note); // nothing to explain when the CPU was asked for
        }
    }

    [Fact]
    public void DeviceWarnings_NamesTheTasksThatFellBackAndWhy()
    {
        var gpu = new DeviceReport { Requested = "cuda", ExecutionProvider = "CUDAExecutionProvider", GpuName = "NVIDIA T4" };
        var cpu = new DeviceReport { Requested = "cuda", ExecutionProvider = "CPUExecutionProvider", Note = "NVIDIA driver 535 supports CUDA up to 12.2" };
        TaskSummary Task(string id, DeviceReport? device) => new() { TaskId = id, Status = TaskOutcome.Committed, Device = device };

        Assert.Null(DeviceWarnings.For([Task("en", gpu), Task("de", null)]));
        Assert.Equal(
            "GPU requested but the CPU ran 2 task(s) (es, fr); their speed-ups are CPU speed-ups: NVIDIA driver 535 supports CUDA up to 12.2",
            DeviceWarnings.For([Task("en", gpu), Task("es", cpu), Task("fr", cpu)]));
    }
}
