using Microsoft.DurableTask;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.DependencyInjection.Extensions;
using SpecFunctions.Core.Evaluation;
using SpecFunctions.Core.Models;

namespace SpecFunctions.Orchestration;

public static class ServiceCollectionExtensions
{
    /// <summary>
    /// Registers the evaluation services. The host registers <see cref="Core.Storage.ITraceStore"/>,
    /// <see cref="IModelCatalog"/> and <see cref="Onnx.OnnxModelOptions"/>.
    /// </summary>
    public static IServiceCollection AddSpecFunctionsEvaluation(this IServiceCollection services, Action<EvaluationOptions>? configure = null)
    {
        var options = services.AddOptions<EvaluationOptions>();
        if (configure is not null)
        {
            options.Configure(configure);
        }

        options.Validate(o => o.MaxConcurrentEvaluations >= 1 && o.ChunkSize >= 1 && o.MaxAttempts >= 1 && o.MaxDispatches >= 1, "Evaluation options must be >= 1");
        options.Validate(o => o.DispatchTimeoutSeconds > 0 && double.IsFinite(o.DispatchTimeoutSeconds), "Evaluation:DispatchTimeoutSeconds must be a number > 0");
        services.TryAddSingleton<ModelCache>();
        services.TryAddSingleton<RunEstimator>();
        services.TryAddSingleton<EvaluationGate>();
        services.TryAddSingleton<IEvaluationObserver, NullEvaluationObserver>();
        services.TryAddSingleton<IMitigationPlanSender, UnconfiguredPlanSender>();
        services.TryAddSingleton<ITaskDispatcher, UnconfiguredTaskDispatcher>();
        services.TryAddTransient<PrepareRunActivity>();
        services.TryAddTransient<EvaluateTaskActivity>();
        services.TryAddTransient<ComputeFairnessActivity>();
        services.TryAddTransient<DispatchTaskActivity>();
        services.TryAddTransient<PlanMitigationActivity>();
        services.TryAddTransient<PlanGatingActivity>();
        services.TryAddTransient<FineTuneDrafterActivity>();
        services.TryAddTransient<SendMitigationPlanActivity>();
        services.TryAddTransient<CompareAndPromoteActivity>();
        return services;
    }

    /// <summary>Registers every orchestrator and activity under its <see cref="DurableNames"/> name.</summary>
    public static DurableTaskRegistry AddSpecFunctionsTasks(this DurableTaskRegistry registry)
    {
        registry.AddOrchestrator(DurableNames.EvaluateSuite, typeof(EvaluateSuiteOrchestrator));
        registry.AddOrchestrator(DurableNames.EvaluateTaskChunk, typeof(EvaluateTaskChunkOrchestrator));
        registry.AddActivity(DurableNames.PrepareRun, typeof(PrepareRunActivity));
        registry.AddActivity(DurableNames.EvaluateTask, typeof(EvaluateTaskActivity));
        registry.AddActivity(DurableNames.ComputeFairness, typeof(ComputeFairnessActivity));
        registry.AddActivity(DurableNames.DispatchTask, typeof(DispatchTaskActivity));
        registry.AddOrchestrator(DurableNames.MitigateDrafter, typeof(MitigateDrafterOrchestrator));
        registry.AddActivity(DurableNames.PlanMitigation, typeof(PlanMitigationActivity));
        registry.AddActivity(DurableNames.PlanGating, typeof(PlanGatingActivity));
        registry.AddActivity(DurableNames.FineTuneDrafter, typeof(FineTuneDrafterActivity));
        registry.AddActivity(DurableNames.SendMitigationPlan, typeof(SendMitigationPlanActivity));
        registry.AddActivity(DurableNames.CompareAndPromote, typeof(CompareAndPromoteActivity));
        return registry;
    }
}
