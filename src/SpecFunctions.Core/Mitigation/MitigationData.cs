namespace SpecFunctions.Core.Mitigation;

/// <summary>The data one task gives a mitigation: prompt counts and how many training prompts are also evaluation prompts.</summary>
/// <param name="TaskId">The task.</param>
/// <param name="TrainingPrompts">Prompts the corrective data comes from.</param>
/// <param name="EvaluationPrompts">Prompts the before/after comparison is measured on.</param>
/// <param name="Overlap">Training prompts that are also evaluation prompts (ordinal, after trimming); must be 0.</param>
/// <param name="DevPrompts">Training prompts held out as the dev split (<see cref="MitigationData.DevSplit"/>).</param>
/// <param name="DevAlpha">Gating: α on the dev prompts' reference prefixes, which γ* was chosen from; null otherwise.</param>
public sealed record MitigationTaskData(string TaskId, int TrainingPrompts, int EvaluationPrompts, int Overlap, int DevPrompts = 0, double? DevAlpha = null);

/// <summary>
/// The rule that keeps a mitigation honest (method.md §6): corrective data never comes from a task's evaluation
/// prompts. A task without training prompts, or with training prompts that are also evaluation prompts, makes the
/// whole mitigation refused — nothing is split off the evaluation set, so the before/after comparison is always measured
/// on exactly the prompts the evaluated run used. The CLI, the HTTP API and the nightly audit all reach this rule
/// through the <c>PlanMitigation</c> activity.
/// </summary>
public static class MitigationData
{
    /// <summary>Per task, in suite order: counts and overlap of its training and evaluation prompts.</summary>
    public static IReadOnlyList<MitigationTaskData> Describe(
        IEnumerable<(string TaskId, IReadOnlyList<string> EvaluationPrompts, IReadOnlyList<string>? TrainingPrompts)> tasks)
    {
        ArgumentNullException.ThrowIfNull(tasks);
        return [.. tasks.Select(t => new MitigationTaskData(
            t.TaskId, t.TrainingPrompts?.Count ?? 0, t.EvaluationPrompts.Count, Overlap(t.TrainingPrompts ?? [], t.EvaluationPrompts),
            DevSplit(t.TrainingPrompts ?? []).Dev.Count))];
    }

    /// <summary>Share of a task's training prompts held out as its dev split. Default 0.2.</summary>
    public const double DevFraction = 0.2;

    /// <summary>
    /// The dev split of a task's training prompts (method.md §6: choices made from data use it, never the evaluation
    /// prompts): the last ⌈<see cref="DevFraction"/>·n⌉ prompts (at least one) are the dev part — what the trainers
    /// re-estimate D_T and the task weights on and the temperature baseline picks τ on — and the others the training
    /// part the corrective data comes from. Deterministic, so a repeated mitigation splits alike. With a single training
    /// prompt no split is possible: it is both.
    /// </summary>
    public static (IReadOnlyList<string> Train, IReadOnlyList<string> Dev) DevSplit(IReadOnlyList<string> training)
    {
        ArgumentNullException.ThrowIfNull(training);
        if (training.Count < 2)
        {
            return (training, training);
        }

        var dev = Math.Clamp((int)Math.Ceiling(DevFraction * training.Count), 1, training.Count - 1);
        return ([.. training.Take(training.Count - dev)], [.. training.Skip(training.Count - dev)]);
    }

    /// <summary>Training prompts (counted with repeats) that equal an evaluation prompt after trimming.</summary>
    public static int Overlap(IReadOnlyList<string> training, IReadOnlyList<string> evaluation)
    {
        ArgumentNullException.ThrowIfNull(training);
        ArgumentNullException.ThrowIfNull(evaluation);
        var evaluated = new HashSet<string>(evaluation.Select(p => p.Trim()), StringComparer.Ordinal);
        return training.Count(p => evaluated.Contains(p.Trim()));
    }

    /// <summary>Why a mitigation on <paramref name="data"/> must be refused, in one line; null when it may run.</summary>
    public static string? RefusalReason(IReadOnlyList<MitigationTaskData> data)
    {
        ArgumentNullException.ThrowIfNull(data);
        var missing = data.Where(t => t.TrainingPrompts == 0).Select(t => t.TaskId).ToList();
        if (missing.Count > 0)
        {
            return $"mitigation refused: {Tasks(missing)} {(missing.Count == 1 ? "has" : "have")} no training prompts, and corrective data never comes from evaluation prompts; "
                + "give every task \"trainingPrompts\" disjoint from its \"prompts\" (for MGSM: specfn suite import-mgsm --training-per-language N)";
        }

        var overlapping = data.Where(t => t.Overlap > 0).ToList();
        return overlapping.Count == 0
            ? null
            : $"mitigation refused: training prompts that are also evaluation prompts in {string.Join(", ", overlapping.Select(t => $"task '{t.TaskId}' ({t.Overlap})"))}; "
                + "training and evaluation prompts must be disjoint";
    }

    private static string Tasks(IReadOnlyList<string> ids) =>
        (ids.Count == 1 ? "task " : "tasks ") + string.Join(", ", ids.Take(10).Select(id => $"'{id}'")) + (ids.Count > 10 ? $" and {ids.Count - 10} more" : "");
}
