namespace SpecFunctions.Core.Mitigation;

/// <summary>
/// The mitigation strategies (method.md §6 and the paper's baselines): the one list. The request parser, the CLI's
/// options, the orchestration and both model families' trainers all name strategies through it; the strings are the
/// wire's (submissions, reports, mitigation plans).
/// </summary>
public static class MitigationStrategies
{
    /// <summary>Stochastic corrective drafter fine-tuning: sample tasks by D_T-derived weights.</summary>
    public const string SCdf = "s-cdf";

    /// <summary>Data balancing: uniform task sampling, same loss.</summary>
    public const string Balanced = "balanced";

    /// <summary>Sweep a drafter-only softmax temperature and keep the fairest (no training; lossless).</summary>
    public const string Temperature = "temperature";

    /// <summary>
    /// The draft length that pays, per task: re-evaluate each task at its γ* from the report (plain decoding where γ* = 0);
    /// no training, drafter and verifier unchanged.
    /// </summary>
    public const string Gating = "gating";

    /// <summary>No change: re-evaluates the same drafter (a control).</summary>
    public const string None = "none";

    /// <summary>Every strategy, in the order the HTTP API and the CLI list them.</summary>
    public static IReadOnlyList<string> All { get; } = [SCdf, Balanced, Temperature, Gating, None];

    /// <summary>The strategies that train (or tune) a new drafter in process: all but <see cref="Gating"/>.</summary>
    public static IReadOnlyList<string> DrafterStrategies { get; } = [SCdf, Balanced, Temperature, None];
}
