using System.Text.Json;
using Azure.Core;
using Azure.Core.Serialization;
using Azure.Identity;
using Azure.Monitor.OpenTelemetry.Exporter;
using Microsoft.Azure.Functions.Worker;
using Azure.Storage.Blobs;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using OpenTelemetry;
using OpenTelemetry.Logs;
using OpenTelemetry.Metrics;
using OpenTelemetry.Resources;
using OpenTelemetry.Trace;
using Microsoft.Azure.Functions.Worker.OpenTelemetry;
using SpecFunctions.Core.Evaluation;
using SpecFunctions.Core.Reporting;
using SpecFunctions.Core.Storage;
using SpecFunctions.Core.Telemetry;
using SpecFunctions.Onnx;
using SpecFunctions.Orchestration;
using SpecFunctions.Storage;
using SpecFunctions.Core.Mitigation.Training;
using SpecFunctions.Core.Models;
using SpecFunctions.Demo.Hosting;

namespace SpecFunctions.Functions.Hosting;

/// <summary>Which telemetry exporter the app uses.</summary>
public enum TelemetryExporter
{
    /// <summary><c>APPLICATIONINSIGHTS_CONNECTION_STRING</c> is set.</summary>
    AzureMonitor,

    /// <summary><c>OTEL_EXPORTER_OTLP_ENDPOINT</c> is set.</summary>
    Otlp,

    /// <summary>Neither is set: spans and metrics go to stdout.</summary>
    Console,
}

/// <summary>Where models are found (configuration section <see cref="SectionName"/>).</summary>
public sealed class ModelCatalogOptions
{
    public const string SectionName = "Models";

    /// <summary>
    /// Folder whose subfolders (each with a <c>specfn-model.json</c>, or an export's <c>genai_config.json</c> / optimum
    /// <c>config.json</c>) are models addressed by folder name; relative paths are resolved against the app folder. Default none.
    /// </summary>
    public string? Root { get; set; }

    /// <summary>
    /// Explicit references, name → model folder (e.g. <c>demo-verifier</c> → <c>/models/demo-verifier</c>); relative
    /// folders are resolved against the app folder. Default none.
    /// </summary>
    public Dictionary<string, string> Aliases { get; set; } = new(StringComparer.Ordinal);

    /// <summary>
    /// Offer the built-in demo pair as <c>demo-verifier</c> / <c>demo-drafter</c>, built on first use (tens of seconds on
    /// 2 cores, once) in <see cref="DemoFolder"/>. For local runs; a deployment ships its models. Default false.
    /// </summary>
    public bool BuiltInDemo { get; set; }

    /// <summary>Where the built-in demo pair is built and cached. Default: <c>specfn-demo-models</c> under the system temp folder.</summary>
    public string? DemoFolder { get; set; }
}

/// <summary>One registration method per layer, so <c>Program.cs</c> reads as a table of contents.</summary>
public static class HostingExtensions
{
    public const string AzureMonitorConnectionStringSetting = "APPLICATIONINSIGHTS_CONNECTION_STRING";

    /// <summary>
    /// How the Functions host authenticates to Application Insights (<c>Authorization=AAD;ClientId=&lt;identity&gt;</c> on
    /// Azure, where the component accepts Entra tokens only); the worker's exporter follows the same setting.
    /// </summary>
    public const string AzureMonitorAuthenticationSetting = "APPLICATIONINSIGHTS_AUTHENTICATION_STRING";
    public const string OtlpEndpointSetting = "OTEL_EXPORTER_OTLP_ENDPOINT";

    /// <summary>Azure Monitor when its connection string is set, else OTLP when an endpoint is set, else the console.</summary>
    public static TelemetryExporter SelectExporter(IConfiguration configuration)
    {
        ArgumentNullException.ThrowIfNull(configuration);
        if (!string.IsNullOrWhiteSpace(configuration[AzureMonitorConnectionStringSetting]))
        {
            return TelemetryExporter.AzureMonitor;
        }

        return string.IsNullOrWhiteSpace(configuration[OtlpEndpointSetting]) ? TelemetryExporter.Console : TelemetryExporter.Otlp;
    }

    /// <summary>
    /// The credential the Azure Monitor exporter sends telemetry with, from <see cref="AzureMonitorAuthenticationSetting"/>
    /// in the host's format: <c>Authorization=AAD</c> with an optional <c>ClientId</c> (a user-assigned identity; without
    /// it the system-assigned one). Null when the setting is empty (the connection string's key alone is used).
    /// </summary>
    /// <exception cref="InvalidOperationException">The setting is present but names no <c>Authorization=AAD</c>.</exception>
    public static TokenCredential? AzureMonitorCredential(string? authenticationString)
    {
        if (string.IsNullOrWhiteSpace(authenticationString))
        {
            return null;
        }

        var parts = authenticationString.Split(';', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries)
            .Select(part => part.Split('=', 2, StringSplitOptions.TrimEntries))
            .ToDictionary(pair => pair[0], pair => pair.Length == 2 ? pair[1] : "", StringComparer.OrdinalIgnoreCase);
        if (!parts.TryGetValue("Authorization", out var authorization) || !string.Equals(authorization, "AAD", StringComparison.OrdinalIgnoreCase))
        {
            throw new InvalidOperationException(
                $"{AzureMonitorAuthenticationSetting} must read 'Authorization=AAD' (optionally ';ClientId=<client id>'); it has no Authorization=AAD.");
        }

        return parts.TryGetValue("ClientId", out var clientId) && clientId.Length > 0
            ? new ManagedIdentityCredential(ManagedIdentityId.FromUserAssignedClientId(clientId))
            : new ManagedIdentityCredential(ManagedIdentityId.SystemAssigned);
    }

    /// <summary>
    /// OpenTelemetry the documented way for the isolated worker: <c>AddOpenTelemetry().UseFunctionsWorkerDefaults()</c>
    /// (Microsoft.Azure.Functions.Worker.OpenTelemetry: each invocation's span continues the host's trace, so host and
    /// worker telemetry correlate; host.json sets <c>telemetryMode: OpenTelemetry</c>), then the exporter:
    /// <c>UseAzureMonitorExporter</c> (traces, metrics and logs) when <c>APPLICATIONINSIGHTS_CONNECTION_STRING</c> is set,
    /// else OTLP, else the console. Sources: <see cref="SpecFunctionsTelemetry"/> (submit, dispatch, the queue hops, the
    /// evaluation and its model calls) and Durable Task's (orchestrations and activities).
    /// </summary>
    public static IServiceCollection AddSpecFunctionsTelemetry(this IServiceCollection services, IConfiguration configuration)
    {
        var exporter = SelectExporter(configuration);
        var otel = services.AddOpenTelemetry()
            .UseFunctionsWorkerDefaults()
            .ConfigureResource(resource => resource.AddService("specfunctions"))
            .WithTracing(tracing => tracing.AddSpecFunctionsSources())
            .WithMetrics(metrics => metrics.AddMeter(SpecFunctionsTelemetry.Name));

        // The exporters read their own settings (connection string, endpoint) from the environment; none is logged here.
        switch (exporter)
        {
            case TelemetryExporter.AzureMonitor:
                var credential = AzureMonitorCredential(configuration[AzureMonitorAuthenticationSetting]);
                otel.UseAzureMonitorExporter(o =>
                {
                    o.ConnectionString = configuration[AzureMonitorConnectionStringSetting];
                    o.Credential = credential;
                });
                break;
            case TelemetryExporter.Otlp:
                otel.WithTracing(t => t.AddOtlpExporter()).WithMetrics(m => m.AddOtlpExporter()).WithLogging(l => l.AddOtlpExporter());
                break;
            default:
                otel.WithTracing(t => t.AddConsoleExporter()).WithMetrics(m => m.AddConsoleExporter());

                // With the worker's OpenTelemetry on, the host stops relaying worker logs (the worker exports its own);
                // locally that means stdout, one line per entry, which the host shows with its own output.
                services.AddLogging(logging => logging.AddSimpleConsole(o =>
                {
                    o.SingleLine = true;
                    o.TimestampFormat = "HH:mm:ss.fff ";
                }));
                break;
        }

        return services;
    }

    /// <summary>The activity sources of one evaluation's trace: the app's own and Durable Task's (client, worker).</summary>
    public static TracerProviderBuilder AddSpecFunctionsSources(this TracerProviderBuilder tracing) => tracing
        .AddSource(SpecFunctionsTelemetry.Name)
        .AddSource("Microsoft.DurableTask")
        .AddSource("Microsoft.DurableTask.*")
        .AddSource("Microsoft.Azure.Functions.Worker");

    /// <summary>
    /// The trace store on Azure Blob Storage (section <see cref="BlobTraceStoreOptions.SectionName"/>), plus the suite
    /// registry. Without <c>TraceStore:ConnectionString</c> and <c>TraceStore:ServiceUri</c>, a plain
    /// <c>AzureWebJobsStorage</c> connection string is used (Azurite locally).
    /// </summary>
    public static IServiceCollection AddSpecFunctionsStorage(this IServiceCollection services, IConfiguration configuration)
    {
        services.AddBlobTraceStore();
        // Runs before AddBlobTraceStore's validation, so these fallbacks satisfy its "connection string or URI" rule.
        services.AddOptions<BlobTraceStoreOptions>().PostConfigure(o =>
        {
            // The names infra/modules/functionApp.bicep sets (managed identity, no connection string).
            if (o.ServiceUri is null && Uri.TryCreate(configuration["SPECFN_TRACE_STORAGE:serviceUri"], UriKind.Absolute, out var serviceUri))
            {
                o.ServiceUri = serviceUri;
            }

            if (configuration["SPECFN_TRACE_CONTAINER"] is { Length: > 0 } container && configuration[$"{BlobTraceStoreOptions.SectionName}:ContainerName"] is null)
            {
                o.ContainerName = container;
            }

            var shared = configuration["AzureWebJobsStorage"];
            if (string.IsNullOrWhiteSpace(o.ConnectionString) && o.ServiceUri is null && !string.IsNullOrWhiteSpace(shared))
            {
                o.ConnectionString = shared;
            }
        });
        services.TryAddSingleton<IObjectStore>(sp => new BlobObjectStore(
            sp.GetRequiredService<BlobContainerClient>(), sp.GetRequiredService<IOptions<BlobTraceStoreOptions>>().Value.BlockSizeBytes));
        services.TryAddSingleton(sp => new SuiteRegistry(sp.GetRequiredService<IObjectStore>()));
        return services;
    }

    /// <summary>
    /// The model catalog (section <see cref="ModelCatalogOptions.SectionName"/>), ONNX Runtime settings (section
    /// <c>Onnx</c>, or <c>SPECFN_DEVICE</c> = Cpu | Cuda) and the orchestration library's services (section
    /// <see cref="EvaluationOptions.SectionName"/>).
    /// </summary>
    public static IServiceCollection AddSpecFunctionsEvaluation(this IServiceCollection services, IConfiguration configuration)
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
        services.TryAddSingleton(sp => new SpecFunctions.Functions.Evaluator.TaskQueues(configuration));
        services.TryAddSingleton<SpecFunctions.Functions.Evaluator.GpuProbe>();
        services.AddHostedService<SpecFunctions.Functions.Evaluator.DeviceStartupCheck>();
        services.Replace(ServiceDescriptor.Singleton<ITaskDispatcher, SpecFunctions.Functions.Evaluator.QueueTaskDispatcher>());
        if (SpecFunctions.Functions.Mitigation.QueueMitigationPlanSender.FromConfiguration(configuration) is { } sender)
        {
            services.Replace(ServiceDescriptor.Singleton<IMitigationPlanSender>(sender));
        }

        return services;
    }

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

            return double.TryParse(text, System.Globalization.NumberStyles.Float, System.Globalization.CultureInfo.InvariantCulture, out var value)
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
