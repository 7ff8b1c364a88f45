using System.CommandLine;
using System.Globalization;
using SpecFunctions.Core.Evaluation;
using SpecFunctions.Core.Reporting;
using SpecFunctions.Core.Storage;
using Spectre.Console;

namespace SpecFunctions.Cli.Commands;

/// <summary>
/// <c>specfn trend SUITE [--html FILE]</c>: U and each task's measured speed-up over the suite's audits (its runs with a
/// report, oldest first), printed as a table and written as the dashboard's chart page (<see cref="SuiteTrends"/>,
/// <see cref="DashboardPageWriter"/>, the code <c>GET /api/dashboard</c> uses).
/// </summary>
internal static class TrendCommand
{
    public const string DefaultFolder = ".specfn/trend";

    public static Command Create()
    {
        var store = new CliStore();
        var suite = new Argument<string>("SUITE") { Description = "The suite: a registered audit suite's name, else the suite name its runs were submitted with" };
        var html = new Option<FileInfo?>("--html") { Description = $"Where to write the chart page (default {DefaultFolder}/SUITE.html)" };
        var command = new Command("trend", "U and each task's measured speed-up over a suite's audits: a table, and the dashboard's chart page.")
        {
            suite, html,
        };
        store.AddTo(command);

        command.SetAction(async (parse, cancellationToken) =>
        {
            var name = parse.GetValue(suite) ?? string.Empty;
            if (name.Length is 0 or > 200 || name.Any(char.IsControl))
            {
                throw new CliException("SUITE: must be 1-200 characters without control characters", ExitCodes.Usage);
            }

            var traces = store.Open(parse);
            var objects = traces is TraceStore opened ? opened.Objects : throw new CliException("this store has no suite registry", ExitCodes.Failure);
            var trend = await SuiteTrends.ReadSuiteAsync(traces, new SuiteRegistry(objects), name, cancellationToken)
                ?? throw new CliException($"no runs of suite '{name}' in {traces.Location}", ExitCodes.Failure);

            var file = parse.GetValue(html) ?? new FileInfo(Path.Combine(DefaultFolder, FileName(name) + ".html"));
            var local = objects is LocalFolderObjectStore ? traces.Location : null;
            var page = DashboardPageWriter.Write([trend], new DashboardPageOptions
            {
                Title = $"SpecFunctions audits: {name}",
                // A local store's reports are files beside each other: link them; a blob store's are not reachable from a file.
                ReportHref = runId => local is null ? null : new Uri(Path.Combine(local, TraceStoreLayout.Artifact(runId, RunArtifact.ReportHtml))).AbsoluteUri,
            });
            file.Directory?.Create();
            await File.WriteAllTextAsync(file.FullName, page, cancellationToken);

            Print(trend, file);
            return ExitCodes.Ok;
        });
        return command;
    }

    private static string FileName(string suite) =>
        new([.. suite.Select(c => char.IsAsciiLetterOrDigit(c) || c is '-' or '_' or '.' ? c : '_')]);

    private static void Print(SuiteTrend trend, FileInfo file)
    {
        if (Console.IsOutputRedirected)
        {
            AnsiConsole.Profile.Width = 200;
        }

        var tasks = trend.TaskIds;
        var table = new Table().Border(TableBorder.Rounded).Title(Markup.Escape($"suite {trend.Suite}: {trend.Points.Count} audits with a report"));
        foreach (var column in new[] { "run", "report (UTC)", "U" }.Concat(tasks).Append("events"))
        {
            table.AddColumn(Markup.Escape(column));
        }

        foreach (var point in trend.Points)
        {
            var events = new List<string>();
            if (point.Regressed)
            {
                events.Add("regression");
            }

            if (point.Promoted)
            {
                events.Add($"promoted ({point.PromotedStrategy})");
            }

            var cells = new List<string>
            {
                Markup.Escape(point.RunId),
                point.GeneratedAt.UtcDateTime.ToString("yyyy-MM-dd HH:mm", CultureInfo.InvariantCulture),
                point.Unfairness.ToString("F6", CultureInfo.InvariantCulture),
            };
            cells.AddRange(tasks.Select(task => point.Tasks.FirstOrDefault(t => t.TaskId == task) is { Speedup: { } s } t
                ? Markup.Escape(s.ToString("F3", CultureInfo.InvariantCulture) + (t.Lower is { } lo && t.Upper is { } hi
                    ? string.Create(CultureInfo.InvariantCulture, $" [{lo:F3}, {hi:F3}]")
                    : string.Empty))
                : "–"));
            cells.Add(events.Count == 0 ? "–" : Markup.Escape(string.Join(", ", events)));
            table.AddRow([.. cells]);
        }

        AnsiConsole.Write(table);
        if (trend.RunsWithoutReport.Count > 0)
        {
            AnsiConsole.MarkupLine(Markup.Escape($"without a report yet: {string.Join(", ", trend.RunsWithoutReport)}"));
        }

        AnsiConsole.MarkupLine(Markup.Escape($"chart page: {file.FullName}"));
    }
}
