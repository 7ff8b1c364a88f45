using System.Text.Json;
using SpecFunctions.Core.Evaluation;
using SpecFunctions.Core.Reporting;
using SpecFunctions.Core.Storage;
using SpecFunctions.Orchestration;
using Spectre.Console;
using SpecFunctions.Core.Models;

namespace SpecFunctions.Cli;

/// <summary>Runs one evaluation on the embedded engine with live progress, then prints and saves its report.</summary>
internal static class EvaluationRunner
{
    public sealed record Result(EvaluationOutcome Outcome, EvaluationReport? Report, TimeSpan Elapsed);

    public static async Task<Result> RunAsync(
        EvaluationRequest request, ITraceStore store, IModelCatalog catalog, bool json, CancellationToken cancellationToken, int maxConcurrentTasks = 1,
        SpecFunctions.Onnx.OnnxModelOptions? onnx = null)
    {
        // Progress goes to stderr with --json so stdout stays one JSON document.
        var plain = json || Console.IsOutputRedirected || !AnsiConsole.Profile.Capabilities.Interactive;
        var observer = new ConsoleObserver(plain, json ? Console.Error : Console.Out);
        var started = System.Diagnostics.Stopwatch.StartNew();
        await using var engine = await EmbeddedEngine.StartAsync(store, catalog, observer, onnx, configure: o => o.MaxConcurrentEvaluations = maxConcurrentTasks, cancellationToken: cancellationToken).ConfigureAwait(false);

        EvaluationOutcome outcome;
        if (plain)
        {
            outcome = await engine.EvaluateAsync(request, cancellationToken: cancellationToken).ConfigureAwait(false);
        }
        else
        {
            outcome = await AnsiConsole.Progress()
                .Columns(new TaskDescriptionColumn(), new ProgressBarColumn(), new PercentageColumn(), new ElapsedTimeColumn(), new SpinnerColumn())
                .StartAsync(async context =>
                {
                    observer.Attach(context, request.Suite.Tasks.Select(t => (t.Id, t.Prompts.Count)));
                    return await engine.EvaluateAsync(request, cancellationToken: cancellationToken).ConfigureAwait(false);
                }).ConfigureAwait(false);
        }

        var report = await ReportPublisher.ReadAsync(store, request.RunId, cancellationToken).ConfigureAwait(false);
        return new Result(outcome, report, started.Elapsed);
    }

    /// <summary>Writes report.json and report.html for a run into <paramref name="folder"/>.</summary>
    public static async Task<(string Json, string Html)> SaveAsync(ITraceStore store, EvaluationReport report, string folder, CancellationToken cancellationToken)
    {
        Directory.CreateDirectory(folder);
        var jsonPath = Path.Combine(folder, $"{report.RunId}.report.json");
        var htmlPath = Path.Combine(folder, $"{report.RunId}.report.html");
        await File.WriteAllTextAsync(jsonPath, report.ToJson(), cancellationToken).ConfigureAwait(false);
        await using (var html = await store.OpenArtifactAsync(report.RunId, RunArtifact.ReportHtml, cancellationToken).ConfigureAwait(false))
        await using (var file = File.Create(htmlPath))
        {
            if (html is not null)
            {
                await html.CopyToAsync(file, cancellationToken).ConfigureAwait(false);
            }
        }

        return (jsonPath, htmlPath);
    }

    /// <summary>Prints the outcome: JSON (one document) or the table; returns the exit code (1 when a task failed).</summary>
    public static int Print(Result result, bool json, IDictionary<string, object?>? extra = null)
    {
        var failed = result.Outcome.Tasks.Where(t => t.Status == TaskOutcome.Failed).ToList();
        if (json)
        {
            var document = new Dictionary<string, object?>
            {
                ["runId"] = result.Outcome.RunId,
                ["elapsedSeconds"] = result.Elapsed.TotalSeconds,
                ["failedTasks"] = failed.Select(t => new { t.TaskId, t.Error }).ToList(),
                ["taskRuns"] = result.Outcome.Tasks,
                ["fairness"] = result.Outcome.Fairness,
                ["report"] = result.Report,
            };
            foreach (var (k, v) in extra ?? new Dictionary<string, object?>())
            {
                document[k] = v;
            }

            Console.Out.WriteLine(JsonSerializer.Serialize(document, CliJson.Options));
        }
        else
        {
            if (result.Report is not null)
            {
                ReportTable.Write(AnsiConsole.Console, result.Report);
            }
            else
            {
                AnsiConsole.MarkupLine($"[red]no report:[/] {Markup.Escape(result.Outcome.Fairness.Reason)}");
            }

            foreach (var t in failed)
            {
                AnsiConsole.MarkupLine($"[red]task {Markup.Escape(t.TaskId)} failed:[/] {Markup.Escape(t.Error ?? string.Empty)}");
            }
        }

        if (failed.Count > 0)
        {
            Console.Error.WriteLine($"specfn: {failed.Count} task(s) failed ({string.Join(", ", failed.Select(t => t.TaskId))}); U covers the other tasks only");
        }
        else if (result.Report is null)
        {
            Console.Error.WriteLine($"specfn: no report: {result.Outcome.Fairness.Reason.ReplaceLineEndings(" ")}");
        }

        return failed.Count > 0 || result.Report is null ? 1 : 0;
    }
}
