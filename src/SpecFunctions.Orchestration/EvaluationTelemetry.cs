using System.Diagnostics;
using System.Diagnostics.Metrics;

namespace SpecFunctions.Orchestration;

/// <summary>
/// The "SpecFunctions" ActivitySource and Meter. Hosts subscribe with OpenTelemetry
/// (<c>AddSource(EvaluationTelemetry.Name)</c>, <c>AddMeter(EvaluationTelemetry.Name)</c>).
/// </summary>
public static class EvaluationTelemetry
{
    public const string Name = "SpecFunctions";

    public static ActivitySource Source { get; } = new(Name);

    public static Meter Meter { get; } = new(Name);

    private static readonly Counter<long> TasksEvaluated = Meter.CreateCounter<long>("specfn.tasks.evaluated", description: "Task evaluations by outcome");
    private static readonly Histogram<double> AcceptanceRate = Meter.CreateHistogram<double>("specfn.acceptance_rate", description: "Accepted / proposed drafts per task");
    private static readonly Histogram<double> TokensPerSecond = Meter.CreateHistogram<double>("specfn.tokens_per_second", unit: "{token}/s", description: "Speculative decoding throughput per task");

    public static void Record(TaskSummary summary)
    {
        TasksEvaluated.Add(1, new KeyValuePair<string, object?>("status", summary.Status));
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
