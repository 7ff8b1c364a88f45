using Azure.Core;
using Azure.Identity;
using Azure.Monitor.OpenTelemetry.Exporter;
using Microsoft.Azure.Functions.Worker.OpenTelemetry;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using OpenTelemetry;
using OpenTelemetry.Logs;
using OpenTelemetry.Metrics;
using OpenTelemetry.Resources;
using OpenTelemetry.Trace;
using SpecFunctions.Core.Telemetry;

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

/// <summary>The worker's OpenTelemetry: one trace per evaluation across host, worker and Durable Task, and the exporter the settings pick.</summary>
public static class TelemetryRegistration
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
}
