using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using SpecFunctions.Core.Mitigation.Training;
using SpecFunctions.Core.Models;
using SpecFunctions.Demo.Hosting;
using SpecFunctions.Functions.Evaluator;
using SpecFunctions.Functions.Mitigation;
using SpecFunctions.Onnx;
using SpecFunctions.Orchestration;

namespace SpecFunctions.Functions.Hosting;

/// <summary>
/// What both planes evaluate with: the model catalog, ONNX Runtime, the orchestration library's services, the
/// drafter trainer and the queues between the planes.
/// </summary>
public static class EvaluationRegistration
{
    /// <summary>The device (Cpu | Cuda) the image sets; it overrides <c>Onnx:Device</c>.</summary>
    public const string DeviceSetting = "SPECFN_DEVICE";

    /// <summary>
    /// The model catalog (section <see cref="ModelCatalogOptions.SectionName"/>), ONNX Runtime settings (section
    /// <see cref="OnnxModelOptions.SectionName"/>, the device overridden by <see cref="DeviceSetting"/> = Cpu | Cuda), the orchestration library's services (section
    /// <see cref="EvaluationOptions.SectionName"/>, validated by the library), the demo family's drafter trainer, queue
    /// dispatch and the mitigation queue. Named apart from the orchestration library's <c>AddSpecFunctionsEvaluation</c>,
    /// which it calls. Every options type is bound from its section and validated when the host starts.
    /// </summary>
    public static IServiceCollection AddSpecFunctionsEvaluationPlanes(this IServiceCollection services, IConfiguration configuration)
    {
        services.AddModelCatalog();
        services.AddOptions<OnnxModelOptions>().BindConfiguration(OnnxModelOptions.SectionName)
            .PostConfigure<IConfiguration>((o, c) =>
            {
                if (Enum.TryParse<OnnxDevice>(c[DeviceSetting], ignoreCase: true, out var device))
                {
                    o.Device = device;
                }
            })
            .ValidateDataAnnotations().ValidateOnStart();
        services.TryAddSingleton(sp => sp.GetRequiredService<IOptions<OnnxModelOptions>>().Value);
        services.AddSpecFunctionsEvaluation();
        services.AddOptions<EvaluationOptions>().BindConfiguration(EvaluationOptions.SectionName).ValidateOnStart();

        // s-CDF for the demo family runs in the replica; other families are handed to an external trainer through the
        // mitigation queue when one is configured (else the plan is stored and the mitigation fails saying so).
        services.AddSingleton<IDrafterTrainer, DemoDrafterTrainer>();
        // Queue dispatch (Evaluation:Dispatch = Queue): tasks go to the evaluation queue of the app's storage account.
        services.TryAddSingleton(sp => new TaskQueues(configuration));
        services.TryAddSingleton<GpuProbe>();
        services.AddHostedService<DeviceStartupCheck>();
        services.Replace(ServiceDescriptor.Singleton<ITaskDispatcher, QueueTaskDispatcher>());
        if (QueueMitigationPlanSender.FromConfiguration(configuration) is { } sender)
        {
            services.Replace(ServiceDescriptor.Singleton<IMitigationPlanSender>(sender));
        }

        return services;
    }

    /// <summary>
    /// The catalog of <see cref="ModelCatalogOptions"/>: a root folder and aliases, relative paths resolved against the
    /// app folder, with the built-in demo pair in front when asked for.
    /// </summary>
    private static IServiceCollection AddModelCatalog(this IServiceCollection services)
    {
        services.AddOptions<ModelCatalogOptions>().BindConfiguration(ModelCatalogOptions.SectionName).ValidateDataAnnotations().ValidateOnStart();
        services.TryAddSingleton<IModelCatalog>(sp =>
        {
            var options = sp.GetRequiredService<IOptions<ModelCatalogOptions>>().Value;
            var root = string.IsNullOrWhiteSpace(options.Root) ? null : Path.GetFullPath(options.Root, AppContext.BaseDirectory);
            var aliases = options.Aliases.ToDictionary(a => a.Key, a => Path.GetFullPath(a.Value, AppContext.BaseDirectory), StringComparer.Ordinal);
            IModelCatalog catalog = new ModelCatalog(aliases, root);
            if (options.BuiltInDemo)
            {
                var folder = string.IsNullOrWhiteSpace(options.DemoFolder)
                    ? Path.Combine(Path.GetTempPath(), "specfn-demo-models")
                    : Path.GetFullPath(options.DemoFolder, AppContext.BaseDirectory);
                catalog = new BuiltInDemoCatalog(catalog, folder, sp.GetRequiredService<ILoggerFactory>().CreateLogger<BuiltInDemoCatalog>());
            }

            return catalog;
        });
        return services;
    }
}
