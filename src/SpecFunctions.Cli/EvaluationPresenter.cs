using System.Collections.Concurrent;
using SpecFunctions.Core.Reporting;
using SpecFunctions.Core.Storage;
using SpecFunctions.Orchestration;
using Spectre.Console;

namespace SpecFunctions.Cli;

/// <summary>
/// Shows live per-task progress: Spectre progress bars on a terminal, one plain line per event otherwise
/// (redirected output, CI logs, <c>--json</c> runs print progress to stderr).
/// </summary>
internal sealed class ConsoleObserver(bool plain, TextWriter plainOut) : IEvaluationObserver
{
    private readonly ConcurrentDictionary<string, ProgressTask> _bars = new(StringComparer.Ordinal);

    // Sharded tasks: prompts done per shard and shards finished, per run and task (shards may run at once).
    private readonly ConcurrentDictionary<(string RunId, string TaskId), ShardProgress> _shards = new();

    public bool Plain => plain;

    /// <summary>Binds the Spectre progress context (terminal mode) and creates one bar per task.</summary>
    public void Attach(ProgressContext context, IEnumerable<(string TaskId, int Prompts)> tasks)
    {
        foreach (var (taskId, prompts) in tasks)
        {
            _bars[taskId] = context.AddTask($"[grey]{Markup.Escape(taskId)}[/]", maxValue: prompts);
        }
    }

    public void TaskStarted(string runId, string taskId, int prompts)
    {
        if (plain)
        {
            plainOut.WriteLine($"[{runId}] {taskId}: started ({prompts} prompts)");
        }
        else if (_bars.TryGetValue(taskId, out var bar))
        {
            // A mitigation re-evaluates the same tasks under another run id: the bar restarts.
            bar.Value = 0;
            bar.Description = $"[yellow]{Markup.Escape(taskId)}[/] [grey]{Markup.Escape(runId)}[/]";
            bar.StartTask();
        }
    }

    public void PromptCompleted(string runId, string taskId, int completed, int total)
    {
        if (plain)
        {
            plainOut.WriteLine($"[{runId}] {taskId}: {completed}/{total} prompts");
        }
        else if (_bars.TryGetValue(taskId, out var bar))
        {
            bar.Value = completed;
        }
    }

    public void ShardStarted(string runId, string taskId, ShardRange shard)
    {
        var progress = _shards.GetOrAdd((runId, taskId), _ => new ShardProgress(shard.Count));
        if (plain)
        {
            plainOut.WriteLine($"[{runId}] {taskId}: shard {shard.Index + 1}/{shard.Count} started ({shard.Prompts} prompts)");
        }
        else if (_bars.TryGetValue(taskId, out var bar))
        {
            bar.Description = $"[yellow]{Markup.Escape(taskId)}[/] [grey]{Markup.Escape(runId)}[/] {progress.Finished}/{shard.Count} shards";
            bar.StartTask();
        }
    }

    public void ShardPromptCompleted(string runId, string taskId, ShardRange shard, int completed)
    {
        var progress = _shards.GetOrAdd((runId, taskId), _ => new ShardProgress(shard.Count));
        var done = progress.Set(shard.Index, completed);
        if (plain)
        {
            plainOut.WriteLine($"[{runId}] {taskId}: shard {shard.Index + 1}/{shard.Count}: {completed}/{shard.Prompts} prompts ({done}/{shard.TaskPrompts} in the task)");
        }
        else if (_bars.TryGetValue(taskId, out var bar))
        {
            bar.Value = done;
        }
    }

    public void TaskCompleted(string runId, TaskSummary summary)
    {
        if (summary is { Shard: { } index, Shards: { } count })
        {
            var progress = _shards.GetOrAdd((runId, summary.TaskId), _ => new ShardProgress(count));
            var finished = progress.Finish(index);
            if (plain)
            {
                plainOut.WriteLine($"[{runId}] {summary.TaskId}: shard {index + 1}/{count} {WireNames.Of(summary.Status)} ({finished}/{count} shards done)");
            }
            else if (_bars.TryGetValue(summary.TaskId, out var bar))
            {
                bar.Description = $"[yellow]{Markup.Escape(summary.TaskId)}[/] [grey]{Markup.Escape(runId)}[/] {finished}/{count} shards";
                if (finished == count)
                {
                    bar.Description = $"[green]{Markup.Escape(summary.TaskId)}[/] {count} shards";
                    bar.Value = bar.MaxValue;
                    bar.StopTask();
                }
            }

            return;
        }

        if (plain)
        {
            plainOut.WriteLine($"[{runId}] {summary.TaskId}: {WireNames.Of(summary.Status)}" + (summary.Alpha is { } a ? $", alpha {a:F3}" : ""));
        }
        else if (_bars.TryGetValue(summary.TaskId, out var bar))
        {
            bar.Description = $"[green]{Markup.Escape(summary.TaskId)}[/]" + (summary.Alpha is { } a ? $" α {a:F3}" : " (reused)");
            bar.Value = bar.MaxValue;
            bar.StopTask();
        }
    }
}

/// <summary>Prints a report's per-task table and fairness summary.</summary>
internal static class ReportTable
{
    public static void Write(IAnsiConsole console, EvaluationReport report)
    {
        if (Console.IsOutputRedirected && console.Profile.Width < 120)
        {
            // Spectre assumes 80 columns when not on a terminal, which folds the intervals under every figure.
            console.Profile.Width = 120;
        }

        var table = new Table().Border(TableBorder.Rounded).Title($"run [bold]{Markup.Escape(report.RunId)}[/]  γ = {report.Suite.Gamma}, c = {report.Suite.CostRatio:F3}, v_γ = {report.Suite.VerificationCostRatio:F3}");
        table.AddColumn("task");
        foreach (var c in new[] { "α_T", "D_T", "tok/step", "S_T", "refined", "measured", "bound", "γ*" })
        {
            table.AddColumn(new TableColumn(c).RightAligned().NoWrap());
        }

        // Every figure with its 95 % bootstrap interval over prompts underneath (dim, "lower–upper").
        static string Cell(double? value, IntervalReport? ci) => value is not { } v
            ? "—"
            : ci is null ? $"{v:F2}" : $"{v:F2}\n[dim]{ci.Lower:F2}–{ci.Upper:F2}[/]";
        foreach (var t in report.Tasks)
        {
            table.AddRow(
                Markup.Escape(t.TaskId) + (t.Gamma is { } own ? $"\n[dim]γ = {own}{(own == 0 ? " (plain)" : string.Empty)}[/]" : string.Empty),
                Cell(t.Alpha, t.AlphaCi),
                Cell(t.CrossEntropy, t.CrossEntropyCi),
                Cell(t.MeanAcceptedLength, t.MeanAcceptedLengthCi),
                Cell(t.AnalyticalSpeedup, t.AnalyticalSpeedupCi),
                Cell(t.RefinedSpeedup, t.RefinedSpeedupCi),
                t.MeasuredSpeedupTooWide
                    ? $"[yellow]{t.MeasuredSpeedup:F2}?[/]\n[dim]{t.MeasuredSpeedupCi?.Lower:F2}–{t.MeasuredSpeedupCi?.Upper:F2}[/]"
                    : Cell(t.MeasuredSpeedup, t.MeasuredSpeedupCi),
                $"{t.SpeedupBound:F2}",
                t.OptimalGamma is { } best ? (best == 0 ? "0 (plain)" : $"{best}") + $"\n[dim]{t.OptimalGammaSpeedup:F2}×[/]" : "—");
        }

        console.Write(table);
        var tooWide = report.Tasks.Where(t => t.MeasuredSpeedupTooWide).ToList();
        if (tooWide.Count > 0)
        {
            console.MarkupLine($"[yellow]?[/] measured interval too wide to read ({string.Join(", ", tooWide.Select(t => $"{Markup.Escape(t.TaskId)} ±{t.MeasuredSpeedupHalfWidth:P0}"))}): more prompts or --repeats, or a quieter machine");
        }

        foreach (var t in report.IncompleteTasks)
        {
            console.MarkupLine($"[red]{Markup.Escape(t.TaskId)}: {WireNames.Of(t.Status)}[/] {Markup.Escape(t.Error ?? string.Empty)}");
        }

        var f = report.Suite.Fairness;
        if (report.Mitigation is { } mitigation)
        {
            WriteMitigation(console, mitigation);
        }

        console.MarkupLine($"Unfairness U = [bold]{f.Unfairness:G4}[/] nats²  (mean D = {f.MeanCrossEntropy:F3}{(f.KlUnfairness is { } ukl ? $"; U_KL = {ukl:G4}" : "")}); speed-up variance {f.SpeedupVariance:G3}, range {f.SpeedupRange:F2}, min/max {f.MinMaxSpeedupRatio:F2}, worst task [bold]{Markup.Escape(f.WorstTask)}[/]");
        if (report.Decision is { } d)
        {
            console.MarkupLine($"Mitigation decision: [bold]{Markup.Escape(d.Action)}[/] — {Markup.Escape(d.Reason)}");
        }
    }

    /// <summary>A task's after/before with its paired interval, red when it is not shown to stay above 1 − margin.</summary>
    private static string Ratio(MitigationTaskReport t) => t.SpeedupRatio is not { } r
        ? "—"
        : t.NoWorseOff
            ? Markup.Escape($"{r:F3} [{t.SpeedupRatioCi?.Lower:F3}, {t.SpeedupRatioCi?.Upper:F3}]")
            : $"[red]{Markup.Escape($"{r:F3} [{t.SpeedupRatioCi?.Lower:F3}, {t.SpeedupRatioCi?.Upper:F3}]")}[/]";

    /// <summary>Before/after of a mitigation: U, mean speed-up, per-task α, D, S and the prompts it trained and was measured on.</summary>
    public static void WriteMitigation(IAnsiConsole console, MitigationReport m)
    {
        var gating = m.Tasks.Any(t => t.GammaAfter is not null);
        var title = gating
            ? $"mitigation [bold]{Markup.Escape(m.Strategy)}[/]: {(m.Promoted ? "[green]per-task draft lengths adopted[/]" : "[yellow]kept the run's γ[/]")}"
            : $"mitigation [bold]{Markup.Escape(m.Strategy)}[/]: {(m.Promoted ? "[green]promoted[/]" : "[yellow]kept the current drafter[/]")}";
        var table = new Table().Border(TableBorder.Rounded).Title(title);
        table.AddColumn("task");
        var speed = m.SpeedupKind == "analytical" ? "S" : m.SpeedupKind;
        var level = m.Tasks.Select(t => t.SpeedupRatioCi?.Level).FirstOrDefault(l => l is not null) ?? 0.95;
        var ratio = $"after/before ({level:P0})";
        string[] columns = gating
            ? ["γ before", "γ after", "dev α", "α_T", "D_T", $"{speed} before", $"{speed} after", "eval", ratio]
            : ["α before", "α after", "D before", "D after", $"{speed} before", $"{speed} after", "train", "eval", "overlap", ratio];
        foreach (var c in columns)
        {
            table.AddColumn(new TableColumn(c).RightAligned());
        }

        foreach (var t in m.Tasks)
        {
            if (gating)
            {
                table.AddRow(Markup.Escape(t.TaskId), $"{t.GammaBefore}", t.GammaAfter == 0 ? "0 (plain)" : $"{t.GammaAfter}", t.DevAlpha is { } devAlpha ? $"{devAlpha:F3}" : "—", $"{t.AlphaBefore:F3}", $"{t.CrossEntropyBefore:F3}", $"{t.SpeedupBefore:F2}", $"{t.SpeedupAfter:F2}", $"{t.EvaluationPrompts}", Ratio(t));
            }
            else
            {
                table.AddRow(Markup.Escape(t.TaskId), $"{t.AlphaBefore:F3}", $"{t.AlphaAfter:F3}", $"{t.CrossEntropyBefore:F3}", $"{t.CrossEntropyAfter:F3}", $"{t.SpeedupBefore:F2}", $"{t.SpeedupAfter:F2}",
                    $"{t.TrainingPrompts}", $"{t.EvaluationPrompts}", t.PromptOverlap == 0 ? "0" : $"[red]{t.PromptOverlap}[/]", Ratio(t));
            }
        }

        console.Write(table);
        if (m.Rule is { } rule)
        {
            // The rule's verdict with the interval that decided it (method.md §6 step 5).
            console.MarkupLine($"Promotion rule ({rule.Resamples} paired resamples over prompts, margin {rule.SpeedupMargin:0.###}): {Markup.Escape(rule.Reason)}");
        }

        var change = m.UnfairnessBefore > 0 ? (m.UnfairnessAfter - m.UnfairnessBefore) / m.UnfairnessBefore : 0;
        if (gating)
        {
            console.MarkupLine($"worst/best {speed} speed-up {m.MinMaxSpeedupRatioBefore:F3} → [bold]{m.MinMaxSpeedupRatioAfter:F3}[/], mean {m.MeanSpeedupBefore:F3} → {m.MeanSpeedupAfter:F3}; U {m.UnfairnessBefore:G4} → {m.UnfairnessAfter:G4} (same drafter on the same reference prefixes, so U cannot move: gating removes slow-downs, not the cross-entropy gap)");
            return;
        }

        console.MarkupLine($"U {m.UnfairnessBefore:G4} → [bold]{m.UnfairnessAfter:G4}[/] ({change:+0.0%;-0.0%}), mean speed-up {m.MeanSpeedupBefore:F3} → {m.MeanSpeedupAfter:F3}");
        var dev = m.Tasks.Sum(t => t.DevPrompts);
        console.MarkupLine($"Data: {m.Tasks.Sum(t => t.TrainingPrompts)} training prompts{(dev > 0 ? $" ({dev} of them the dev split: D_T re-estimates, weights, τ)" : "")}, {m.Tasks.Sum(t => t.EvaluationPrompts)} evaluation prompts, overlap {m.Tasks.Sum(t => t.PromptOverlap)} (before and after measured on the evaluation prompts only)");
    }
}

/// <summary>Prompts done per shard of one task and which shards finished (thread-safe).</summary>
internal sealed class ShardProgress(int shards)
{
    private readonly int[] _done = new int[shards];
    private readonly bool[] _finished = new bool[shards];
    private readonly Lock _gate = new();

    public int Finished
    {
        get
        {
            lock (_gate)
            {
                return _finished.Count(f => f);
            }
        }
    }

    /// <summary>Records a shard's prompts done; returns the task's.</summary>
    public int Set(int shard, int completed)
    {
        lock (_gate)
        {
            _done[shard] = completed;
            return _done.Sum();
        }
    }

    /// <summary>Marks a shard finished; returns the shards finished.</summary>
    public int Finish(int shard)
    {
        lock (_gate)
        {
            _finished[shard] = true;
            return _finished.Count(f => f);
        }
    }
}
