using System.Text.Json;
using System.Text.Json.Serialization;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Mvc;
using Microsoft.Azure.Functions.Worker;
using Microsoft.DurableTask.Client;
using Microsoft.Extensions.Logging;
using Microsoft.Net.Http.Headers;
using SpecFunctions.Core.Evaluation;
using SpecFunctions.Core.Storage;
using SpecFunctions.Orchestration;

namespace SpecFunctions.Functions.Http;

/// <summary>The callback of an external drafter trainer: hands the new drafter to the waiting <c>MitigateDrafter</c> orchestration.</summary>
public sealed class MitigationApi(EvaluationRequestParser parser, ILogger<MitigationApi> logger)
{
    /// <summary>Strict reading of the <see cref="NewDrafter"/> body: exact member names, no unknown members, no coercion.</summary>
    private static readonly JsonSerializerOptions StrictJson = new(JsonSerializerDefaults.Web)
    {
        PropertyNameCaseInsensitive = false,
        NumberHandling = JsonNumberHandling.Strict,
        UnmappedMemberHandling = JsonUnmappedMemberHandling.Disallow,
        AllowTrailingCommas = false,
        ReadCommentHandling = JsonCommentHandling.Disallow,
    };

    /// <summary>
    /// <c>POST /api/evaluations/{runId}/mitigation/drafter-ready</c> with <c>{ "reference", "identity": { "name", "sha256" }, "notes" }</c>:
    /// raises the <c>DrafterReady</c> event. 202; 404 when the run has no mitigation; 409 when it is not waiting.
    /// </summary>
    [Function(nameof(DrafterReady))]
    public async Task<IActionResult> DrafterReady(
        [HttpTrigger(AuthorizationLevel.Function, "post", Route = "evaluations/{runId}/mitigation/drafter-ready")] HttpRequest request,
        [DurableClient] DurableTaskClient client,
        string runId,
        CancellationToken cancellationToken)
    {
        if (!StoreIds.IsValid(runId))
        {
            return Problems.InvalidRunId(request, runId);
        }

        var (body, problem) = await HttpInput.ReadJsonAsync(request, parser.Limits.MaxBodyBytes, cancellationToken);
        if (problem is not null)
        {
            return problem;
        }

        var (drafter, errors) = ParseNewDrafter(body);
        if (drafter is null)
        {
            return Problems.BadRequest(request, errors);
        }

        var instanceId = MitigationRequests.InstanceId(runId);
        var instance = await client.GetInstanceAsync(instanceId, false, cancellationToken);
        if (instance is null)
        {
            return Problems.NotFound(request, $"run '{runId}' has no mitigation");
        }

        if (instance.RuntimeStatus != OrchestrationRuntimeStatus.Running)
        {
            return Problems.Conflict(request, $"the mitigation of run '{runId}' is {instance.RuntimeStatus}, not waiting for a drafter");
        }

        await client.RaiseEventAsync(instanceId, MitigateDrafterOrchestrator.DrafterReadyEvent, drafter, cancellationToken);
        logger.DrafterReadyRaised(runId, drafter.Identity.Name);
        var urls = EvaluationUrls.For(request, runId);
        var result = new JsonApiResult(StatusCodes.Status202Accepted, urls.ToBody(runId));
        result.Headers[HeaderNames.Location] = urls.Status;
        return result;
    }

    internal static (NewDrafter? Drafter, IReadOnlyList<ValidationError> Errors) ParseNewDrafter(ReadOnlyMemory<byte> body)
    {
        NewDrafter? drafter;
        try
        {
            drafter = JsonSerializer.Deserialize<NewDrafter>(body.Span, StrictJson);
        }
        catch (JsonException ex)
        {
            var field = string.IsNullOrEmpty(ex.Path) || ex.Path == "$" ? "$" : ex.Path.TrimStart('$', '.');
            // The serializer's message names missing or unknown members; it never echoes values.
            return (null, [new ValidationError(field, ex.Message.Split(" Path:", 2)[0])]);
        }

        if (drafter is null)
        {
            return (null, [new ValidationError("$", "must be an object, got null")]);
        }

        var errors = new List<ValidationError>();
        if (string.IsNullOrWhiteSpace(drafter.Reference))
        {
            errors.Add(new ValidationError("reference", "must not be empty"));
        }

        if (!StoreIds.IsValid(drafter.Identity.Name))
        {
            errors.Add(new ValidationError("identity.name", $"must match {StoreIds.Pattern}"));
        }

        if (drafter.Identity.Sha256 is not { Length: 64 } sha || !sha.All(c => char.IsAsciiDigit(c) || c is >= 'a' and <= 'f'))
        {
            errors.Add(new ValidationError("identity.sha256", "must be 64 lower-case hex digits"));
        }

        return errors.Count == 0 ? (drafter, errors) : (null, errors);
    }
}
