using System.Text.Json;
using System.Text.Json.Nodes;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Mvc;
using Microsoft.Azure.Functions.Worker;
using Microsoft.DurableTask;
using Microsoft.DurableTask.Client;
using Microsoft.Extensions.Logging;
using Microsoft.Net.Http.Headers;
using SpecFunctions.Core.Evaluation;
using SpecFunctions.Core.Storage;
using SpecFunctions.Core.Telemetry;
using SpecFunctions.Orchestration;

namespace SpecFunctions.Functions.Http;

/// <summary>
/// The evaluation HTTP API (Durable's async HTTP pattern): submit, poll status, read the report, cancel. Every function
/// validates its input before touching the Durable client or the store, and answers bad input with 400
/// <c>application/problem+json</c> naming the field.
/// </summary>
/// <param name="estimator">Answers <c>?dryRun=true</c> and <c>?estimate=true</c>; without one (tests of other paths) they are refused.</param>
/// <param name="estimateOptions">The estimates' price, cold start and fan-out (section <c>Estimate</c>).</param>
public sealed class EvaluationsApi(
    EvaluationRequestParser parser, ITraceStore store, TimeProvider time, ILogger<EvaluationsApi> logger,
    RunEstimator? estimator = null, Microsoft.Extensions.Options.IOptions<EstimateOptions>? estimateOptions = null)
{
    /// <summary>Seconds a client should wait before polling again (the <c>Retry-After</c> header).</summary>
    public const int RetryAfterSeconds = 10;

    /// <summary><c>POST /api/evaluations</c>: validates the submission and starts <c>EvaluateSuite</c> with instance id = run id.</summary>
    [Function(nameof(SubmitEvaluation))]
    public async Task<IActionResult> SubmitEvaluation(
        [HttpTrigger(AuthorizationLevel.Function, "post", Route = "evaluations")] HttpRequest request,
        [DurableClient] DurableTaskClient client,
        CancellationToken cancellationToken)
    {
        var (submission, problem) = await HttpInput.ReadSubmissionAsync(request, parser, logger, cancellationToken);
        if (problem is not null)
        {
            return problem;
        }

        var evaluation = submission!;
        var (dryRun, withEstimate, estimateQuery, queryErrors) = ReadEstimateQuery(request);
        if (queryErrors.Count > 0)
        {
            return Problems.BadRequest(request, queryErrors);
        }

        if (dryRun || withEstimate)
        {
            // The estimate reads the referenced suite (validated as a run would) and calibrates or reads a stored report;
            // it starts and writes nothing.
            var (estimate, estimateProblem) = await EstimateAsync(request, evaluation, estimateQuery, cancellationToken);
            if (estimateProblem is not null)
            {
                return estimateProblem;
            }

            if (dryRun)
            {
                return new JsonApiResult(StatusCodes.Status200OK, estimate!);
            }

            evaluation = evaluation with { Prediction = Core.Estimation.RunPrediction.From(estimate!, (estimateOptions?.Value ?? new EstimateOptions()).Replicas) };
        }

        var runId = evaluation.RunId;

        // The root of the run's trace below the host's request span: Durable carries it into the orchestration.
        using var span = SpecFunctionsTelemetry.ActivitySource.StartActivity("SubmitEvaluation");
        span?.SetTag("specfn.run_id", runId);
        span?.SetTag("specfn.tasks", evaluation.Suite.Tasks.Count);
        var existing = await client.GetInstanceAsync(runId, true, cancellationToken);
        if (existing is not null)
        {
            if (!IsRetryable(existing))
            {
                logger.SubmissionAlreadyExists(runId);
                return Accepted(request, runId);
            }

            // A failed, terminated or cancelled run starts again under its id: its history is purged, its committed
            // tasks are reused from the store (same content keys), the rest are evaluated.
            await client.PurgeInstanceAsync(runId, cancellation: cancellationToken);
            await store.ClearAsync(runId, cancellationToken);
            logger.EvaluationRetried(runId, existing.RuntimeStatus.ToString());
        }

        try
        {
            await client.ScheduleNewOrchestrationInstanceAsync(
                new TaskName(DurableNames.EvaluateSuite), evaluation, new StartOrchestrationOptions { InstanceId = runId }, cancellationToken);
        }
        catch (Exception ex) when (ex is not OperationCanceledException)
        {
            // Two submissions with the same id can race past the check above; the loser sees the winner's instance.
            if (await client.GetInstanceAsync(runId, false, cancellationToken) is null)
            {
                throw;
            }

            logger.SubmissionAlreadyExists(runId);
            return Accepted(request, runId);
        }

        SpecFunctionsTelemetry.EvaluationsStarted.Add(1, new KeyValuePair<string, object?>("source", "http"));
        logger.EvaluationScheduled(runId, evaluation.Suite.Tasks.Count);
        return Accepted(request, runId);
    }

    /// <summary>
    /// <c>GET /api/evaluations[?page=&amp;pageSize=&amp;suite=&amp;status=]</c>: the stored runs, newest first, one page
    /// (<see cref="RunListing"/>): run id, suite, pair, status and phase, tasks done/total, U, worst task, times.
    /// </summary>
    [Function(nameof(ListEvaluations))]
    public async Task<IActionResult> ListEvaluations(
        [HttpTrigger(AuthorizationLevel.Function, "get", Route = "evaluations")] HttpRequest request,
        CancellationToken cancellationToken)
    {
        var errors = new List<ValidationError>();
        var query = new RunQuery
        {
            Page = HttpInput.QueryInteger(request, "page", 1, errors),
            PageSize = HttpInput.QueryInteger(request, "pageSize", RunListing.DefaultPageSize, errors),
            Suite = HttpInput.QueryText(request, "suite", errors),
            Status = HttpInput.QueryText(request, "status", errors),
        };
        if (errors.Count == 0)
        {
            errors.AddRange(RunListing.Validate(query).Select(p => new ValidationError(p.Field, p.Message)));
        }

        if (errors.Count > 0)
        {
            return Problems.BadRequest(request, errors);
        }

        return new JsonApiResult(StatusCodes.Status200OK, await store.ListRunPageAsync(query, cancellationToken));
    }

    /// <summary>Response header of the status endpoint when a GPU was requested and the CPU ran some task.</summary>
    public const string DeviceFallbackHeader = "X-Specfn-Device-Fallback";

    /// <summary><c>GET /api/evaluations/{runId}</c>: runtime status, progress (custom status), output and failure.</summary>
    [Function(nameof(GetEvaluationStatus))]
    public async Task<IActionResult> GetEvaluationStatus(
        [HttpTrigger(AuthorizationLevel.Function, "get", Route = "evaluations/{runId}")] HttpRequest request,
        [DurableClient] DurableTaskClient client,
        string runId,
        CancellationToken cancellationToken)
    {
        var (instance, problem) = await FindRunAsync(request, client, runId, cancellationToken);
        if (instance is null)
        {
            return problem!;
        }

        var urls = EvaluationUrls.For(request, runId);
        var output = ParseJson(instance.SerializedOutput);
        var deviceWarning = output is JsonObject outcome && outcome["deviceWarning"] is JsonValue warning && warning.TryGetValue<string>(out var text) ? text : null;
        var running = instance.RuntimeStatus is OrchestrationRuntimeStatus.Pending or OrchestrationRuntimeStatus.Running or OrchestrationRuntimeStatus.Suspended;
        var result = new JsonApiResult(running ? StatusCodes.Status202Accepted : StatusCodes.Status200OK, new EvaluationStatusBody
        {
            Id = runId,
            RuntimeStatus = instance.RuntimeStatus.ToString(),
            CreatedAt = instance.CreatedAt,
            LastUpdatedAt = instance.LastUpdatedAt,
            Progress = ParseJson(instance.SerializedCustomStatus),
            Output = output,
            DeviceWarning = deviceWarning,
            Failure = instance.FailureDetails is { } failure
                ? new FailureBody { ErrorType = failure.ErrorType, ErrorMessage = failure.ErrorMessage }
                : null,
            StatusQueryGetUri = urls.Status,
            ReportGetUri = urls.Report,
            CancelPostUri = urls.Cancel,
        });
        if (deviceWarning is not null)
        {
            // Visible without parsing the body: the run's figures were measured on the CPU although a GPU was asked for.
            result.Headers[DeviceFallbackHeader] = "cpu";
        }

        if (running)
        {
            result.Headers[HeaderNames.RetryAfter] = RetryAfterSeconds.ToString(System.Globalization.CultureInfo.InvariantCulture);
        }

        return result;
    }

    /// <summary><c>GET /api/evaluations/{runId}/report[?format=html]</c>: the stored report.json or report.html.</summary>
    [Function(nameof(GetEvaluationReport))]
    public async Task<IActionResult> GetEvaluationReport(
        [HttpTrigger(AuthorizationLevel.Function, "get", Route = "evaluations/{runId}/report")] HttpRequest request,
        string runId,
        CancellationToken cancellationToken)
    {
        if (!StoreIds.IsValid(runId))
        {
            return Problems.InvalidRunId(request, runId);
        }

        var format = request.Query["format"].ToString();
        (RunArtifact artifact, string contentType) = format switch
        {
            "" or "json" => (RunArtifact.ReportJson, "application/json; charset=utf-8"),
            "html" => (RunArtifact.ReportHtml, "text/html; charset=utf-8"),
            _ => (default(RunArtifact), ""),
        };
        if (contentType.Length == 0)
        {
            return Problems.BadRequest(request, "format", $"must be 'json' or 'html', got {HttpInput.Describe(format)}");
        }

        var stream = await store.OpenArtifactAsync(runId, artifact, cancellationToken);
        return stream is null
            ? Problems.NotFound(request, $"run '{runId}' has no report yet (unknown run, or still evaluating)")
            : new StreamApiResult(stream, contentType);
    }

    /// <summary>
    /// <c>POST /api/evaluations/{runId}/cancel</c>: stops a pending or running evaluation. The request is recorded in the
    /// store, where every activity of the run sees it (tasks not started do not evaluate, a running one stops between
    /// prompts), and the orchestration is told to finish: it then reports the tasks committed so far and lists the rest
    /// as cancelled. A run in its mitigation phase is terminated instead (its trainer may be waited on for hours).
    /// </summary>
    [Function(nameof(CancelEvaluation))]
    public async Task<IActionResult> CancelEvaluation(
        [HttpTrigger(AuthorizationLevel.Function, "post", Route = "evaluations/{runId}/cancel")] HttpRequest request,
        [DurableClient] DurableTaskClient client,
        string runId,
        CancellationToken cancellationToken)
    {
        var (instance, problem) = await FindRunAsync(request, client, runId, cancellationToken);
        if (instance is null)
        {
            return problem!;
        }

        if (instance.IsCompleted)
        {
            return Problems.Conflict(request, $"evaluation '{runId}' has already finished ({instance.RuntimeStatus}); nothing to cancel");
        }

        await store.RequestAsync(runId, "cancelled by request", time.GetUtcNow(), cancellationToken);
        if (PhaseOf(instance) == "mitigating")
        {
            await client.TerminateInstanceAsync(runId, new TerminateInstanceOptions { Output = "cancelled by request", Recursive = true }, cancellationToken);
        }
        else
        {
            await client.RaiseEventAsync(runId, DurableNames.CancelEvent, "cancelled by request", cancellationToken);
        }

        logger.EvaluationCancelled(runId);
        var urls = EvaluationUrls.For(request, runId);
        var result = new JsonApiResult(StatusCodes.Status202Accepted, urls.ToBody(runId));
        result.Headers[HeaderNames.Location] = urls.Status;
        return result;
    }

    /// <summary>Failed, terminated, or completed after a cancel: a re-submission starts it again.</summary>
    internal static bool IsRetryable(OrchestrationMetadata instance) =>
        instance.RuntimeStatus is OrchestrationRuntimeStatus.Failed or OrchestrationRuntimeStatus.Terminated
        || (instance.RuntimeStatus == OrchestrationRuntimeStatus.Completed && ParseJson(instance.SerializedOutput) is JsonObject output
            && output["cancelled"]?.GetValueKind() == JsonValueKind.True);

    private static string? PhaseOf(OrchestrationMetadata instance) =>
        ParseJson(instance.SerializedCustomStatus) is JsonObject status && status["phase"] is JsonValue phase && phase.TryGetValue<string>(out var text)
            ? text
            : null;

    private sealed record EstimateQuery(int? PromptsPerShard, int? MaxReplicas, string? ProfileRun);

    /// <summary><c>dryRun</c>, <c>estimate</c> (true/false), <c>promptsPerShard</c>, <c>maxReplicas</c>, <c>profileRun</c>: each at most once.</summary>
    private static (bool DryRun, bool Estimate, EstimateQuery Query, List<ValidationError> Errors) ReadEstimateQuery(HttpRequest request)
    {
        var errors = new List<ValidationError>();
        string? One(string field)
        {
            var values = request.Query[field];
            if (values.Count > 1)
            {
                errors.Add(new ValidationError(field, "must be given at most once"));
                return null;
            }

            return values.Count == 0 ? null : values[0];
        }

        bool Flag(string field) => One(field) switch
        {
            null or "false" => false,
            "true" => true,
            var other => AddError(field, $"must be true or false, got {HttpInput.Describe(other)}"),
        };

        int? Count(string field, int max)
        {
            var text = One(field);
            if (text is null)
            {
                return null;
            }

            if (!int.TryParse(text, System.Globalization.NumberStyles.None, System.Globalization.CultureInfo.InvariantCulture, out var value) || value < 1 || value > max)
            {
                errors.Add(new ValidationError(field, $"must be a whole number in 1..{max}, got {HttpInput.Describe(text)}"));
                return null;
            }

            return value;
        }

        bool AddError(string field, string problem)
        {
            errors.Add(new ValidationError(field, problem));
            return false;
        }

        var dryRun = Flag("dryRun");
        var estimate = Flag("estimate");
        var query = new EstimateQuery(Count("promptsPerShard", 1_000_000), Count("maxReplicas", 1024), One("profileRun"));
        if (query.ProfileRun is { } profileRun && !StoreIds.IsValid(profileRun))
        {
            errors.Add(new ValidationError("profileRun", $"{HttpInput.Describe(profileRun)} is not a valid run id"));
        }

        var tuned = query.PromptsPerShard is not null || query.MaxReplicas is not null || query.ProfileRun is not null;
        if (!dryRun && !estimate && tuned)
        {
            errors.Add(new ValidationError("$", "promptsPerShard, maxReplicas and profileRun go with dryRun=true or estimate=true"));
        }

        return (dryRun, estimate, query, errors);
    }

    private async Task<(Core.Estimation.RunEstimate? Estimate, JsonApiResult? Problem)> EstimateAsync(
        HttpRequest request, EvaluationRequest evaluation, EstimateQuery query, CancellationToken cancellationToken)
    {
        if (estimator is null)
        {
            return (null, Problems.BadRequest(request, "dryRun", "estimates are not available on this host"));
        }

        var options = estimateOptions?.Value ?? new EstimateOptions();
        try
        {
            var estimate = await estimator.EstimateAsync(
                evaluation, options.ToParameters(query.PromptsPerShard, query.MaxReplicas), query.ProfileRun, options.CalibrationPrompts, cancellationToken);
            return (estimate, null);
        }
        catch (SuiteSourceException ex)
        {
            return (null, Problems.BadRequest(request, "suite.source.blob", ex.Message));
        }
        catch (RunNotFoundException ex)
        {
            return (null, Problems.BadRequest(request, "profileRun", ex.Message));
        }
        catch (InvalidOperationException ex)
        {
            return (null, Problems.BadRequest(request, query.ProfileRun is null ? "$" : "profileRun", ex.Message));
        }
    }

    private static JsonApiResult Accepted(HttpRequest request, string runId)
    {
        var urls = EvaluationUrls.For(request, runId);
        var result = new JsonApiResult(StatusCodes.Status202Accepted, urls.ToBody(runId));
        result.Headers[HeaderNames.Location] = urls.Status;
        result.Headers[HeaderNames.RetryAfter] = RetryAfterSeconds.ToString(System.Globalization.CultureInfo.InvariantCulture);
        return result;
    }

    /// <summary>The run's orchestration (inputs and outputs fetched), or the answer: 400 for an invalid run id, 404 when there is none.</summary>
    private static async Task<(OrchestrationMetadata? Instance, JsonApiResult? Problem)> FindRunAsync(
        HttpRequest request, DurableTaskClient client, string runId, CancellationToken cancellationToken)
    {
        if (!StoreIds.IsValid(runId))
        {
            return (null, Problems.InvalidRunId(request, runId));
        }

        var instance = await client.GetInstanceAsync(runId, true, cancellationToken);
        return instance is null ? (null, Problems.NotFound(request, $"no evaluation with run id '{runId}'")) : (instance, null);
    }

    private static JsonNode? ParseJson(string? json)
    {
        if (string.IsNullOrEmpty(json))
        {
            return null;
        }

        try
        {
            return JsonNode.Parse(json);
        }
        catch (JsonException)
        {
            // Custom status and output are ours and always JSON; anything else is shown verbatim rather than lost.
            return JsonValue.Create(json);
        }
    }
}

/// <summary>The management URLs of one evaluation, absolute, built from the request's scheme and host.</summary>
public sealed record EvaluationUrls(string Status, string Report, string Cancel)
{
    /// <summary>The HTTP route prefix (<c>extensions.http.routePrefix</c> in host.json).</summary>
    public const string RoutePrefix = "api";

    public static EvaluationUrls For(HttpRequest request, string runId)
    {
        var root = $"{request.Scheme}://{request.Host}{request.PathBase}/{RoutePrefix}/evaluations/{Uri.EscapeDataString(runId)}";
        return new EvaluationUrls(root, root + "/report", root + "/cancel");
    }

    public SubmissionBody ToBody(string runId) => new()
    {
        Id = runId,
        StatusQueryGetUri = Status,
        ReportGetUri = Report,
        CancelPostUri = Cancel,
    };
}

/// <summary>The 202 body of a submission or cancellation.</summary>
public sealed record SubmissionBody
{
    public required string Id { get; init; }

    public required string StatusQueryGetUri { get; init; }

    public required string ReportGetUri { get; init; }

    public required string CancelPostUri { get; init; }
}

/// <summary>The body of <c>GET /api/evaluations/{runId}</c>.</summary>
public sealed record EvaluationStatusBody
{
    public required string Id { get; init; }

    /// <summary>Durable runtime status: Pending, Running, Completed, Failed, Terminated, Suspended.</summary>
    public required string RuntimeStatus { get; init; }

    public DateTimeOffset CreatedAt { get; init; }

    public DateTimeOffset LastUpdatedAt { get; init; }

    /// <summary>The orchestration's custom status (<see cref="EvaluationProgress"/>); null before the first update.</summary>
    public JsonNode? Progress { get; init; }

    /// <summary>The orchestration's output once completed (the evaluation outcome, or the termination reason).</summary>
    public JsonNode? Output { get; init; }

    public FailureBody? Failure { get; init; }

    /// <summary>
    /// Set when a GPU was requested and the CPU ran some task (the outcome's <c>deviceWarning</c>, repeated here and
    /// in the <c>X-Specfn-Device-Fallback: cpu</c> header): the speed-ups are CPU speed-ups.
    /// </summary>
    public string? DeviceWarning { get; init; }

    public required string StatusQueryGetUri { get; init; }

    public required string ReportGetUri { get; init; }

    public required string CancelPostUri { get; init; }
}

/// <summary>Why an evaluation failed.</summary>
public sealed record FailureBody
{
    public required string ErrorType { get; init; }

    public required string ErrorMessage { get; init; }
}
