using System.CommandLine;
using System.Globalization;
using System.Text.Json;
using SpecFunctions.Core.Storage;
using Spectre.Console;

namespace SpecFunctions.Cli.Commands;

/// <summary><c>specfn runs [--suite NAME] [--status S] [--page N] [--page-size N]</c>: the stored runs, newest first.</summary>
internal static class RunsCommand
{
    public static Command Create()
    {
        var store = new CliStore();
        var suite = new Option<string?>("--suite") { Description = "Only runs of this suite (its name)" };
        var status = new Option<string?>("--status") { Description = $"Only runs with this status: {string.Join(", ", RunListing.Statuses)}" };
        var page = new Option<int>("--page") { Description = "Page number, from 1", DefaultValueFactory = _ => 1 };
        var pageSize = new Option<int>("--page-size") { Description = $"Runs per page, 1..{RunListing.MaxPageSize}", DefaultValueFactory = _ => RunListing.DefaultPageSize };
        var json = new Option<bool>("--json") { Description = "Print the page as JSON (the body of GET /api/evaluations)" };

        var command = new Command("runs", "List the stored runs, newest first: status, progress, U and worst task.")
        {
            suite, status, page, pageSize, json,
        };
        store.AddTo(command);

        command.SetAction(async (parse, cancellationToken) =>
        {
            var query = new RunQuery
            {
                Suite = parse.GetValue(suite),
                Status = parse.GetValue(status),
                Page = parse.GetValue(page),
                PageSize = parse.GetValue(pageSize),
            };
            if (RunListing.Validate(query) is [var problem, ..])
            {
                throw new CliException($"--{Kebab(problem.Field)}: {problem.Message}", ExitCodes.Usage);
            }

            var result = await store.Open(parse).ListRunPageAsync(query, cancellationToken);
            if (parse.GetValue(json))
            {
                Console.Out.WriteLine(JsonSerializer.Serialize(result, RunManifest.JsonOptions));
                return ExitCodes.Ok;
            }

            Print(result);
            return ExitCodes.Ok;
        });
        return command;
    }

    private static string Kebab(string field) => field == "pageSize" ? "page-size" : field;

    private static void Print(RunPage result)
    {
        if (result.Runs.Count == 0)
        {
            Console.Out.WriteLine(result.Page == 1 ? "no runs" : $"no runs on page {result.Page}");
            return;
        }

        if (Console.IsOutputRedirected)
        {
            AnsiConsole.Profile.Width = 180;
        }

        var table = new Table().Border(TableBorder.Rounded);
        foreach (var column in new[] { "run", "suite", "pair", "status", "phase", "tasks", "U", "worst task", "created", "finished" })
        {
            table.AddColumn(column);
        }

        foreach (var run in result.Runs)
        {
            table.AddRow(
                Markup.Escape(run.RunId),
                Markup.Escape(run.Suite ?? "–"),
                Markup.Escape($"{run.Drafter} → {run.Verifier}"),
                run.Status,
                run.Phase,
                $"{run.TasksDone}/{run.TasksTotal}",
                run.Unfairness is { } u ? u.ToString("F6", CultureInfo.InvariantCulture) : "–",
                Markup.Escape(run.WorstTask ?? "–"),
                run.CreatedAt.UtcDateTime.ToString("yyyy-MM-dd HH:mm:ss'Z'", CultureInfo.InvariantCulture),
                run.FinishedAt is { } f ? f.UtcDateTime.ToString("yyyy-MM-dd HH:mm:ss'Z'", CultureInfo.InvariantCulture) : "–");
        }

        AnsiConsole.Write(table);
        if (result.HasMore)
        {
            AnsiConsole.MarkupLine($"more: --page {result.Page + 1}");
        }
    }
}
