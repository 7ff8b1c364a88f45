using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Mvc;
using Microsoft.Azure.Functions.Worker;
using Microsoft.Extensions.Logging;
using SpecFunctions.Core.Evaluation;
using SpecFunctions.Functions.Http;

namespace SpecFunctions.Functions.Audit;

/// <summary>The suites the nightly audit re-runs: register (or replace) one, list them.</summary>
public sealed class AuditSuitesApi(EvaluationRequestParser parser, SuiteRegistry registry, ILogger<AuditSuitesApi> logger)
{
    /// <summary>
    /// <c>PUT /api/audit/suites/{name}</c>: body as for <c>POST /api/evaluations</c>; a <c>runId</c> in it is ignored
    /// (each audit makes its own). Keeps the suite's run history.
    /// </summary>
    [Function(nameof(RegisterAuditSuite))]
    public async Task<IActionResult> RegisterAuditSuite(
        [HttpTrigger(AuthorizationLevel.Function, "put", Route = "audit/suites/{name}")] HttpRequest request,
        string name,
        CancellationToken cancellationToken)
    {
        try
        {
            SuiteRegistry.ValidateName(name);
        }
        catch (ArgumentException ex)
        {
            return Problems.BadRequest(request, "name", ex.Message);
        }

        var (submission, problem) = await HttpInput.ReadSubmissionAsync(request, parser, logger, cancellationToken);
        if (problem is not null)
        {
            return problem;
        }

        var suite = await registry.RegisterAsync(name, submission! with { RunId = name }, cancellationToken);
        logger.AuditSuiteRegistered(name, suite.Request.Suite.Tasks.Count);
        return new JsonApiResult(StatusCodes.Status200OK, Summary(suite));
    }

    /// <summary><c>GET /api/audit/suites</c>: name, task count and run history of every registered suite.</summary>
    [Function(nameof(ListAuditSuites))]
    public async Task<IActionResult> ListAuditSuites(
        [HttpTrigger(AuthorizationLevel.Function, "get", Route = "audit/suites")] HttpRequest request,
        CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(request);
        var suites = await registry.ListAsync(cancellationToken);
        return new JsonApiResult(StatusCodes.Status200OK, new { suites = suites.Select(Summary).ToList() });
    }

    private static AuditSuiteBody Summary(RegisteredSuite suite) => new()
    {
        Name = suite.Name,
        Suite = suite.Request.Suite.Name,
        Tasks = suite.Request.Suite.Tasks.Count,
        Verifier = suite.Request.Verifier,
        Drafter = suite.Request.Drafter,
        Runs = suite.Runs,
    };
}

/// <summary>One registered suite as the API shows it.</summary>
public sealed record AuditSuiteBody
{
    public required string Name { get; init; }

    /// <summary>The suite's own name (<c>suite.name</c> of the submission).</summary>
    public required string Suite { get; init; }

    public required int Tasks { get; init; }

    public required string Verifier { get; init; }

    public required string Drafter { get; init; }

    /// <summary>Audit run ids, oldest first.</summary>
    public required IReadOnlyList<string> Runs { get; init; }
}
