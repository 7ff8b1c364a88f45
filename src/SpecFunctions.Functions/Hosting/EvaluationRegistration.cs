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
    /// <summary>
    /// The model catalog (section <see cref="ModelCatalogOptions.SectionName"/>), ONNX Runtime settings (section
    /// <c>Onnx</c>, or <c>SPECFN_DEVICE</c> = Cpu | Cuda), the orchestration library's services (section
    /// <see cref="EvaluationOptions.SectionName"/>), the demo family's drafter trainer, queue dispatch and the
    /// mitigation queue. Named apart from the orchestration library's <c>AddSpecFunctionsEvaluation</c>, which it calls.
    /// </summary>
    public static IServiceCollection AddSpecFunctionsEvaluationPlanes(this IServiceCollection services, IConfiguration configuration)
    {
        services.AddModelCatalog();
        var onnx = configuration.GetSection("Onnx").Get<OnnxModelOptions>() ?? OnnxModelOptions.Default;
        if (Enum.TryParse<OnnxDevice>(configuration["SPECFN_DEVICE"], ignoreCase: true, out var device))
        {
            onnx = onnx with { Device = device };
        }

        onnx.Validate();
        services.TryAddSingleton(onnx);
        services.AddSpecFunctionsEvaluation(o => configuration.GetSection(EvaluationOptions.SectionName).Bind(o));

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
        services.AddOptions<ModelCatalogOptions>().BindConfiguration(ModelCatalogOptions.SectionName);
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
