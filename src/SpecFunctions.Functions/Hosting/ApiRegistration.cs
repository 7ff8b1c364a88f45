using System.Text.Json;
using Azure.Core.Serialization;
using Microsoft.Azure.Functions.Worker;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.Options;
using SpecFunctions.Core.Evaluation;
using SpecFunctions.Core.Models;
using SpecFunctions.Core.Reporting;
using SpecFunctions.Orchestration;

namespace SpecFunctions.Functions.Hosting;

/// <summary>What the HTTP API reads and writes with: one JSON convention, the request parser and its limits, the audit thresholds.</summary>
public static class ApiRegistration
{
    /// <summary>
    /// One JSON convention for everything the worker serializes, Durable inputs, outputs and custom status included:
    /// System.Text.Json's web defaults (camelCase names, case-insensitive reads), so the status endpoint's <c>output</c>
    /// reads like every other HTTP body. The Durable extension takes its data converter from <see cref="WorkerOptions.Serializer"/>.
    /// </summary>
    public static IServiceCollection AddSpecFunctionsJson(this IServiceCollection services)
    {
        services.Configure<WorkerOptions>(o => o.Serializer = new JsonObjectSerializer(new JsonSerializerOptions(JsonSerializerDefaults.Web)));
        return services;
    }

    /// <summary>
    /// The HTTP API's request parser (limits: section <see cref="EvaluationLimits.SectionName"/>; the deployment's
    /// mitigation thresholds: <see cref="MitigationDefaultsOptions"/>), the estimate's assumptions and the audit
    /// thresholds; each bound from its section and validated when the host starts.
    /// </summary>
    public static IServiceCollection AddSpecFunctionsApi(this IServiceCollection services)
    {
        services.AddOptions<EvaluationLimits>().BindConfiguration(EvaluationLimits.SectionName).ValidateDataAnnotations().ValidateOnStart();
        services.AddOptions<EstimateOptions>().BindConfiguration(EstimateOptions.SectionName)
            .Validate(o => o.PricePerSecond >= 0 && o.ColdStartSeconds >= 0 && o.PerShardOverheadSeconds >= 0 && o.MaxReplicas is >= 1 and <= 1024
                && o.Replicas >= 1 && o.CalibrationPrompts >= 1, "Estimate options must be >= 0 (counts >= 1, MaxReplicas <= 1024)")
            .ValidateOnStart();
        services.AddOptions<RegressionThresholds>().BindConfiguration(RegressionThresholds.SectionName).ValidateDataAnnotations().ValidateOnStart();
        // The infra names first, so that the section, bound after them, wins where both are set.
        services.AddOptions<MitigationDefaultsOptions>()
            .Configure<IConfiguration>((o, configuration) => o.ReadInfraSettings(configuration))
            .BindConfiguration(MitigationDefaultsOptions.SectionName)
            .ValidateDataAnnotations().ValidateOnStart();
        services.TryAddSingleton(TimeProvider.System);
        services.TryAddSingleton(sp => new EvaluationRequestParser(
            sp.GetRequiredService<IOptions<EvaluationLimits>>().Value,
            sp.GetRequiredService<IModelCatalog>().IsKnown,
            EvaluationRequestParser.NewRunId,
            sp.GetRequiredService<IOptions<MitigationDefaultsOptions>>().Value.ToPolicy()));
        return services;
    }
}
