using System.Diagnostics;
using System.Diagnostics.Metrics;

namespace SpecFunctions.Orchestration;

/// <summary>
/// Per-task instruments on the shared "SpecFunctions" ActivitySource and Meter
/// (<see cref="Core.Telemetry.SpecFunctionsTelemetry"/>), which hosts subscribe to with OpenTelemetry.
/// </summary>
public static class EvaluationTelemetry
{
    public static ActivitySource Source => Core.Telemetry.SpecFunctionsTelemetry.ActivitySource;

    private static Meter Meter => Core.Telemetry.SpecFunctionsTelemetry.Meter;

    private static readonly Counter<long> TasksEvaluated = Meter.CreateCounter<long>("specfn.tasks.evaluated", description: "Task evaluations by outcome");
    private static readonly Histogram<double> AcceptanceRate = Meter.CreateHistogram<double>("specfn.acceptance_rate", description: "Accepted / proposed drafts per task");
    private static readonly Histogram<double> TokensPerSecond = Meter.CreateHistogram<double>("specfn.tokens_per_second", unit: "{token}/s", description: "Speculative decoding throughput per task");

    public static void Record(TaskSummary summary)
    {
        TasksEvaluated.Add(1, new KeyValuePair<string, object?>("status", WireNames.Of(summary.Status)));
        if (summary.AcceptanceRate is { } rate)
        {
            AcceptanceRate.Record(rate);
        }

        if (summary.TokensPerSecond is { } tps)
        {
            TokensPerSecond.Record(tps);
        }
    }
}
