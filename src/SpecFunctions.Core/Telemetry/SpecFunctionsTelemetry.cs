using System.Diagnostics;
using System.Diagnostics.Metrics;

namespace SpecFunctions.Core.Telemetry;

/// <summary>
/// The trace source and meter of SpecFunctions, shared by every host (Functions app, CLI, orchestration library).
/// Host-free: <see cref="System.Diagnostics"/> only; exporters are chosen by the host. Instruments are static so
/// that recording costs nothing while no listener is attached.
/// </summary>
public static class SpecFunctionsTelemetry
{
    /// <summary>Name of the <see cref="ActivitySource"/> and the <see cref="Meter"/>: register it with the exporter.</summary>
    public const string Name = "SpecFunctions";

    public static ActivitySource ActivitySource { get; } = new(Name);

    public static Meter Meter { get; } = new(Name);

    /// <summary>Evaluations scheduled (HTTP submissions and audits). Tag <c>source</c>: <c>http</c> | <c>audit</c>.</summary>
    public static Counter<long> EvaluationsStarted { get; } =
        Meter.CreateCounter<long>("specfn.evaluations.started", "{evaluation}", "Evaluations scheduled");

    /// <summary>Evaluations that finished with a report.</summary>
    public static Counter<long> EvaluationsCompleted { get; } =
        Meter.CreateCounter<long>("specfn.evaluations.completed", "{evaluation}", "Evaluations completed");

    /// <summary>Evaluations that failed or were terminated.</summary>
    public static Counter<long> EvaluationsFailed { get; } =
        Meter.CreateCounter<long>("specfn.evaluations.failed", "{evaluation}", "Evaluations failed");

    /// <summary>Audited runs found to have regressed against the suite's previous run. Tag <c>suite</c>.</summary>
    public static Counter<long> Regressions { get; } =
        Meter.CreateCounter<long>("specfn.audit.regressions", "{run}", "Audited runs that regressed");
}
