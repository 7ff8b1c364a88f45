using System.Globalization;
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
    /// mitigation thresholds: <see cref="MitigationDefaults"/>) and the audit thresholds.
    /// </summary>
    public static IServiceCollection AddSpecFunctionsApi(this IServiceCollection services, IConfiguration? configuration = null)
    {
        services.AddOptions<EvaluationLimits>().BindConfiguration(EvaluationLimits.SectionName);
        services.AddOptions<EstimateOptions>().BindConfiguration(EstimateOptions.SectionName)
            .Validate(o => o.PricePerSecond >= 0 && o.ColdStartSeconds >= 0 && o.PerShardOverheadSeconds >= 0 && o.MaxReplicas is >= 1 and <= 1024
                && o.Replicas >= 1 && o.CalibrationPrompts >= 1, "Estimate options must be >= 0 (counts >= 1, MaxReplicas <= 1024)")
            .ValidateOnStart();
        services.AddOptions<RegressionThresholds>().BindConfiguration(RegressionThresholds.SectionName).ValidateDataAnnotations().ValidateOnStart();
        services.TryAddSingleton(TimeProvider.System);
        var mitigation = MitigationDefaults(configuration);
        services.TryAddSingleton(sp => new EvaluationRequestParser(
            sp.GetRequiredService<IOptions<EvaluationLimits>>().Value,
            sp.GetRequiredService<IModelCatalog>().IsKnown,
            EvaluationRequestParser.NewRunId,
            mitigation));
        return services;
    }

    /// <summary>
    /// The mitigation thresholds a submission (or a registered audit suite) gets when its <c>mitigation</c> leaves them
    /// out: <c>Mitigation:UnfairnessThreshold</c> / <c>Mitigation:SpeedupGapThreshold</c>, or the names the Bicep sets,
    /// <c>FAIRNESS_UNFAIRNESS_THRESHOLD</c> / <c>FAIRNESS_SPEEDUP_GAP_THRESHOLD</c>; else 0.05 nats² and 0.25. A value
    /// that is not a number ≥ 0 stops the app at startup.
    /// </summary>
    public static MitigationPolicy MitigationDefaults(IConfiguration? configuration)
    {
        var policy = new MitigationPolicy();
        if (configuration is null)
        {
            return policy;
        }

        double? Read(string name, string bicepName)
        {
            var text = configuration[$"Mitigation:{name}"] ?? configuration[bicepName];
            if (string.IsNullOrWhiteSpace(text))
            {
                return null;
            }

            return double.TryParse(text, NumberStyles.Float, CultureInfo.InvariantCulture, out var value)
                && value >= 0 && double.IsFinite(value)
                ? value
                : throw new InvalidOperationException($"Mitigation:{name} ({bicepName}) must be a number ≥ 0 such as 0.05, not '{text}'");
        }

        return policy with
        {
            UnfairnessThreshold = Read(nameof(MitigationPolicy.UnfairnessThreshold), "FAIRNESS_UNFAIRNESS_THRESHOLD") ?? policy.UnfairnessThreshold,
            SpeedupGapThreshold = Read(nameof(MitigationPolicy.SpeedupGapThreshold), "FAIRNESS_SPEEDUP_GAP_THRESHOLD") ?? policy.SpeedupGapThreshold,
        };
    }
}
