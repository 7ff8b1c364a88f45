using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;

namespace SpecFunctions.Functions.Evaluator;

/// <summary>
/// Says at start-up which device this process will evaluate on: the requested one, the GPU and driver NVML sees, and
/// which CUDA the natives need and whether NVIDIA's forward-compatibility libraries stand in for an older driver, and
/// plainly when a GPU was requested but the driver is missing or too old for the image's CUDA libraries (a warning, so
/// it is not lost among the host's start-up lines). Each task's summary carries the same facts (<c>device</c>).
/// </summary>
public sealed class DeviceStartupCheck(GpuProbe gpu, ILogger<DeviceStartupCheck> logger) : IHostedService
{
    public Task StartAsync(CancellationToken cancellationToken)
    {
        var device = gpu.Describe(null);
        var info = gpu.Gpu;
        var problem = device.Note is { } note ? $"; {note}" : "";
        logger.DeviceAtStartup(device.Requested, info.Name ?? "none", info.DriverVersion ?? "none", info.DriverCudaText ?? "none", problem);
        if (device.Requested == "cuda")
        {
            logger.CudaNativesAtStartup(GpuProbe.NativesNeed, gpu.Compat?.Reason ?? "not considered");
        }

        if (device.Requested == "cuda" && device.Note is not null)
        {
            logger.GpuUnusableAtStartup(device.Note);
        }

        return Task.CompletedTask;
    }

    public Task StopAsync(CancellationToken cancellationToken) => Task.CompletedTask;
}
