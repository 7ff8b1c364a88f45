using System.Text.Json;
using System.Text.Json.Nodes;
using System.Text.Json.Serialization;
using SpecFunctions.Core.Reporting;

namespace SpecFunctions.Core.Storage;

/// <summary>
/// The history of runs in a store, newest first, one page at a time (<c>GET /api/evaluations</c>, <c>specfn runs</c>).
/// One listing of <c>runs/</c> gives every run's creation time (the last-modified time of its write-once
/// <c>created.json</c>, <see cref="TraceStoreLayout.RunCreated"/>) and whether its report exists, so the order needs no
/// reads; only the manifests (and reports) of the runs shown are read, plus, when filtering, those scanned to fill the
/// page. Runs stored before <c>created.json</c> existed are ordered by their manifest's <c>createdAt</c> (one read each).
/// </summary>
public static class RunListing
{
    /// <summary>Largest page size.</summary>
    public const int MaxPageSize = 100;

    /// <summary>Default page size.</summary>
    public const int DefaultPageSize = 20;

    /// <summary>Statuses a run can have in the store (the names of the Durable runtime statuses they correspond to).</summary>
    public static IReadOnlyList<string> Statuses { get; } = [RunStatuses.Running, RunStatuses.Completed, RunStatuses.Failed];

    /// <summary>Checks a query; returns the (field, message) problems, empty when valid.</summary>
    public static IReadOnlyList<(string Field, string Message)> Validate(RunQuery query)
    {
        var problems = new List<(string, string)>();
        if (query.Page < 1)
        {
            problems.Add(("page", $"must be 1 or more, got {query.Page}"));
        }

        if (query.PageSize is < 1 or > MaxPageSize)
        {
            problems.Add(("pageSize", $"must be in 1..{MaxPageSize}, got {query.PageSize}"));
        }

        if (query.Suite is { } suite && (suite.Length == 0 || suite.Length > 200 || suite.Any(char.IsControl)))
        {
            problems.Add(("suite", "must be 1-200 characters without control characters"));
        }

        if (query.Status is { } status && !Statuses.Contains(status, StringComparer.Ordinal))
        {
            problems.Add(("status", $"must be one of {string.Join(", ", Statuses)}"));
        }

        return problems;
    }

    /// <summary>The page of runs <paramref name="query"/> asks for.</summary>
    /// <exception cref="ArgumentException">The query is invalid (<see cref="Validate"/>).</exception>
    public static async Task<RunPage> ListAsync(IObjectStore objects, RunQuery query, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(objects);
        ArgumentNullException.ThrowIfNull(query);
        if (Validate(query) is [var first, ..])
        {
            throw new ArgumentException($"{first.Field}: {first.Message}", nameof(query));
        }

        var runs = new Dictionary<string, ListedRun>(StringComparer.Ordinal);
        await foreach (var entry in objects.ListEntriesAsync("runs/", cancellationToken).ConfigureAwait(false))
        {
            var rest = entry.Path.AsSpan("runs/".Length);
            var slash = rest.IndexOf('/');
            if (slash <= 0)
            {
                continue;
            }

            var runId = rest[..slash].ToString();
            var file = rest[(slash + 1)..];
            if (!StoreIds.IsValid(runId))
            {
                continue;
            }

            var run = runs.TryGetValue(runId, out var known) ? known : runs[runId] = new ListedRun(runId);
            if (file.SequenceEqual("manifest.json"))
            {
                run.HasManifest = true;
            }
            else if (file.SequenceEqual("created.json"))
            {
                run.Created = entry.LastModified;
            }
            else if (file.SequenceEqual("report.json"))
            {
                run.ReportAt = entry.LastModified;
            }
        }

        var store = new TraceStore(objects);
        foreach (var run in runs.Values.Where(r => r.HasManifest && r.Created is null))
        {
            var manifest = await store.GetManifestAsync(run.RunId, cancellationToken).ConfigureAwait(false);
            run.Created = manifest?.CreatedAt;
        }

        var ordered = runs.Values.Where(r => r.HasManifest && r.Created is not null)
            .OrderByDescending(r => r.Created)
            .ThenBy(r => r.RunId, StringComparer.Ordinal)
            .ToList();
        var skip = (query.Page - 1) * query.PageSize;
        var page = new List<RunSummary>(query.PageSize);
        var matched = 0;
        var hasMore = false;
        var filtered = query.Suite is not null || query.Status is not null;
        if (!filtered)
        {
            matched = Math.Min(skip, ordered.Count);
        }

        foreach (var run in filtered ? ordered : ordered.Skip(skip))
        {
            // A report settles the status without reading anything else.
            if (query.Status is { } wanted && run.ReportAt is not null != (wanted == RunStatuses.Completed))
            {
                continue;
            }

            // Unfiltered, the next run is known to match without reading its manifest.
            if (!filtered && page.Count == query.PageSize)
            {
                hasMore = true;
                break;
            }

            var manifest = await store.GetManifestAsync(run.RunId, cancellationToken).ConfigureAwait(false);
            if (manifest is null)
            {
                continue;
            }

            var summary = Summarize(manifest, run);
            if ((query.Suite is { } suite && summary.Suite != suite) || (query.Status is { } status && summary.Status != status))
            {
                continue;
            }

            if (page.Count == query.PageSize)
            {
                hasMore = true;
                break;
            }

            if (matched++ < skip)
            {
                continue;
            }

            page.Add(run.ReportAt is null ? summary : await WithReportAsync(store, summary, cancellationToken).ConfigureAwait(false));
        }

        return new RunPage { Page = query.Page, PageSize = query.PageSize, HasMore = hasMore, Runs = page };
    }

    private static RunSummary Summarize(RunManifest manifest, ListedRun run)
    {
        var total = manifest.Tasks.Count;
        var done = manifest.Tasks.Values.Count(t => t.Status is not (TaskState.Pending or TaskState.Running));
        var failed = manifest.Tasks.Values.Any(t => t.Status == TaskState.Failed);
        string status;
        string phase;
        if (run.ReportAt is not null)
        {
            (status, phase) = (RunStatuses.Completed, "reported");
        }
        else if (done < total || total == 0)
        {
            (status, phase) = (RunStatuses.Running, "evaluating");
        }
        else if (failed)
        {
            (status, phase) = (RunStatuses.Failed, "evaluated");
        }
        else
        {
            (status, phase) = (RunStatuses.Running, "reporting");
        }

        return new RunSummary
        {
            RunId = manifest.RunId,
            Suite = SuiteName(manifest.Submission),
            Verifier = manifest.Verifier.Name,
            Drafter = manifest.Drafter.Name,
            Status = status,
            Phase = phase,
            TasksDone = done,
            TasksTotal = total,
            CreatedAt = manifest.CreatedAt == default ? run.Created!.Value : manifest.CreatedAt,
            FinishedAt = run.ReportAt,
        };
    }

    private static async Task<RunSummary> WithReportAsync(TraceStore store, RunSummary summary, CancellationToken cancellationToken)
    {
        try
        {
            var report = await ReportPublisher.ReadAsync(store, summary.RunId, cancellationToken).ConfigureAwait(false);
            return report is null ? summary : summary with
            {
                Unfairness = double.IsFinite(report.Suite.Fairness.Unfairness) ? report.Suite.Fairness.Unfairness : null,
                WorstTask = report.Suite.Fairness.WorstTask,
            };
        }
        catch (Exception ex) when (ex is JsonException or FormatException)
        {
            // A damaged (or "null") report does not hide the run from the history; its figures are left empty.
            return summary;
        }
    }

    private static string? SuiteName(JsonObject? submission) =>
        submission?["suite"] is JsonObject suite && suite["name"] is JsonValue name && name.TryGetValue<string>(out var text) ? text : null;

    private sealed class ListedRun(string runId)
    {
        public string RunId { get; } = runId;

        public DateTimeOffset? Created { get; set; }

        public DateTimeOffset? ReportAt { get; set; }

        public bool HasManifest { get; set; }
    }
}

/// <summary>Run statuses of the history (the Durable runtime status names they correspond to).</summary>
public static class RunStatuses
{
    /// <summary>Tasks still evaluating, or all evaluated and the report not written yet.</summary>
    public const string Running = "Running";

    /// <summary>The report is written.</summary>
    public const string Completed = "Completed";

    /// <summary>Every task finished, some failed, and no report was written.</summary>
    public const string Failed = "Failed";
}

/// <summary>What page of the history to list, and its filters.</summary>
public sealed record RunQuery
{
    /// <summary>1-based page number.</summary>
    public int Page { get; init; } = 1;

    public int PageSize { get; init; } = RunListing.DefaultPageSize;

    /// <summary>Only runs of this suite (its name as submitted); null: every suite.</summary>
    public string? Suite { get; init; }

    /// <summary>Only runs with this status (<see cref="RunStatuses"/>); null: every status.</summary>
    public string? Status { get; init; }
}

/// <summary>One page of the history.</summary>
public sealed record RunPage
{
    [JsonPropertyName("page")]
    public int Page { get; init; }

    [JsonPropertyName("pageSize")]
    public int PageSize { get; init; }

    /// <summary>Whether a next page has runs.</summary>
    [JsonPropertyName("hasMore")]
    public bool HasMore { get; init; }

    [JsonPropertyName("runs")]
    public required IReadOnlyList<RunSummary> Runs { get; init; }
}

/// <summary>One run of the history.</summary>
public sealed record RunSummary
{
    [JsonPropertyName("runId")]
    public required string RunId { get; init; }

    /// <summary>The suite's name as submitted; null when the manifest has no submission.</summary>
    [JsonPropertyName("suite")]
    public string? Suite { get; init; }

    [JsonPropertyName("verifier")]
    public required string Verifier { get; init; }

    [JsonPropertyName("drafter")]
    public required string Drafter { get; init; }

    /// <summary>One of <see cref="RunStatuses"/>.</summary>
    [JsonPropertyName("status")]
    public required string Status { get; init; }

    /// <summary><c>evaluating</c>, <c>reporting</c>, <c>evaluated</c> (failed without report) or <c>reported</c>.</summary>
    [JsonPropertyName("phase")]
    public required string Phase { get; init; }

    /// <summary>Tasks no longer pending or running (committed, reused, failed, cancelled).</summary>
    [JsonPropertyName("tasksDone")]
    public int TasksDone { get; init; }

    [JsonPropertyName("tasksTotal")]
    public int TasksTotal { get; init; }

    /// <summary>U of the report, nats²; null without a report.</summary>
    [JsonPropertyName("unfairness")]
    public double? Unfairness { get; init; }

    /// <summary>The report's task with the lowest speed-up; null without a report.</summary>
    [JsonPropertyName("worstTask")]
    public string? WorstTask { get; init; }

    [JsonPropertyName("createdAt")]
    public DateTimeOffset CreatedAt { get; init; }

    /// <summary>When the report was written; null before.</summary>
    [JsonPropertyName("finishedAt")]
    public DateTimeOffset? FinishedAt { get; init; }
}
