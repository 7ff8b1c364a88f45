using System.CommandLine;
using SpecFunctions.Core.Reporting;
using SpecFunctions.Core.Storage;
using SpecFunctions.Storage;
using Spectre.Console;

namespace SpecFunctions.Cli.Commands;

/// <summary><c>specfn report RUN_ID</c>: the evaluation report of a stored run (table, JSON or self-contained HTML).</summary>
internal static class ReportCommand
{
    public static Command Create()
    {
        var runId = new Argument<string>("RUN_ID") { Description = "Run id (lower-case letters, digits, '-', '_'; 1-64 characters)" };
        var store = new CliStore();
        var html = new Option<FileInfo?>("--html") { Description = "Also write the self-contained HTML report to this file" };
        var json = new Option<bool>("--json") { Description = "Print the report as JSON (the schema the HTTP API returns) instead of a table" };
        var recompute = new Option<bool>("--recompute") { Description = "Recompute from the traces even when a stored report.json exists" };

        var command = new Command("report", "Show the per-task acceptance, speed-up and fairness report of a stored run.")
        {
            runId, html, json, recompute,
        };
        store.AddTo(command);

        command.SetAction(async (parse, cancellationToken) =>
        {
            try
            {
                var id = StoreIds.Validate(parse.GetValue(runId), "run");
                var traces = store.Open(parse);
                var report = await ReportPublisher.GetOrBuildAsync(traces, id, recompute: parse.GetValue(recompute), cancellationToken: cancellationToken);

                if (parse.GetValue(html) is { } file)
                {
                    await File.WriteAllTextAsync(file.FullName, HtmlReportWriter.Write(report), cancellationToken);
                }

                if (parse.GetValue(json))
                {
                    Console.Out.WriteLine(report.ToJson());
                }
                else
                {
                    Print(report, parse.GetValue(html));
                }

                // U over part of the suite because tasks failed (or their traces were lost) is not a clean result.
                var failed = report.IncompleteTasks.Where(t => t.Status == TaskState.Failed).Select(t => t.TaskId).ToList();
                if (failed.Count > 0)
                {
                    Console.Error.WriteLine($"specfn: run '{id}' is incomplete: {failed.Count} failed task(s) ({string.Join(", ", failed)}) are left out of U");
                    return ExitCodes.Failure;
                }

                return ExitCodes.Ok;
            }
            catch (Exception ex) when (ex is TraceStoreException or ArgumentException or IOException or UnauthorizedAccessException)
            {
                var message = ex is ArgumentException { ParamName: { } name } ? ex.Message.Replace($" (Parameter '{name}')", string.Empty, StringComparison.Ordinal) : ex.Message;
                Console.Error.WriteLine($"specfn: {message.ReplaceLineEndings(" ")}");
                return ExitCodes.Failure;
            }
        });
        return command;
    }

    private static void Print(EvaluationReport report, FileInfo? html)
    {
        if (Console.IsOutputRedirected)
        {
            // Spectre assumes 80 columns when not on a terminal, which folds every number of a 12-column table.
            AnsiConsole.Profile.Width = 180;
        }

        var table = new Table().Border(TableBorder.Rounded).Title($"run {Markup.Escape(report.RunId)}  (γ = {report.Suite.Gamma}, c = {F(report.Suite.CostRatio, 4)})");
        // Headers and cells are Spectre markup: anything with brackets must be escaped.
        foreach (var column in new[] { "task", "status", "prompts", "α_T (95% CI)", "D_T", "KL_T", "acc. rate", "mean acc. len", "S_T", "refined", "measured", "bound" })
        {
            table.AddColumn(column == "task" || column == "status" ? new TableColumn(column) : new TableColumn(column).RightAligned());
        }

        foreach (var t in report.Tasks)
        {
            var worst = t.TaskId == report.Suite.Fairness.WorstTask;
            table.AddRow(
                worst ? $"[bold red]{Markup.Escape(t.TaskId)}[/]" : Markup.Escape(t.TaskId),
                t.Status.ToString().ToLowerInvariant(),
                t.Prompts.ToString(System.Globalization.CultureInfo.InvariantCulture),
                Markup.Escape(t.AlphaCi is { } ci ? $"{F(t.Alpha, 3)} [{F(ci.Lower, 3)}, {F(ci.Upper, 3)}]" : F(t.Alpha, 3)),
                F(t.CrossEntropy, 3),
                F(t.Kl, 3),
                F(t.AcceptanceRate, 3),
                F(t.MeanAcceptedLength, 2),
                F(t.AnalyticalSpeedup, 3),
                F(t.RefinedSpeedup, 3),
                F(t.MeasuredSpeedup, 3),
                F(t.SpeedupBound, 3));
        }

        AnsiConsole.Write(table);
        var f = report.Suite.Fairness;
        AnsiConsole.MarkupLine(
            $"U = {F(f.Unfairness, 6)} nats²   speed-up range {F(f.SpeedupRange, 3)}   min/max {F(f.MinMaxSpeedupRatio, 3)}   worst task [bold]{Markup.Escape(f.WorstTask)}[/]");
        foreach (var t in report.IncompleteTasks)
        {
            AnsiConsole.MarkupLine($"[yellow]{Markup.Escape(t.TaskId)}: {t.Status.ToString().ToLowerInvariant()}[/]{Markup.Escape(t.Error is null ? string.Empty : " " + t.Error)}");
        }

        if (report.Mitigation is { } m)
        {
            AnsiConsole.MarkupLine($"mitigation {Markup.Escape(m.Strategy)}: U {F(m.UnfairnessBefore, 6)} → {F(m.UnfairnessAfter, 6)}, mean speed-up {F(m.MeanSpeedupBefore, 3)} → {F(m.MeanSpeedupAfter, 3)}{(m.Promoted ? ", promoted" : string.Empty)}");
        }

        if (html is not null)
        {
            AnsiConsole.MarkupLine($"HTML report: {Markup.Escape(html.FullName)}");
        }
    }

    private static string F(double? value, int digits) => value is { } v && double.IsFinite(v)
        ? v.ToString("F" + digits.ToString(System.Globalization.CultureInfo.InvariantCulture), System.Globalization.CultureInfo.InvariantCulture)
        : "–";
}
