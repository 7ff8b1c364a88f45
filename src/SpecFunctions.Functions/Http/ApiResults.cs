using System.Text.Json;
using System.Text.Json.Serialization;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Mvc;
using SpecFunctions.Core.Evaluation;
using SpecFunctions.Core.Storage;

namespace SpecFunctions.Functions.Http;

/// <summary>
/// A response written straight to <see cref="HttpResponse"/>: status, headers and a JSON body. Needs no MVC services,
/// so the same result runs under the Functions host and on a bare <see cref="DefaultHttpContext"/> in tests.
/// </summary>
internal sealed class JsonApiResult(int statusCode, object? body, string contentType = "application/json") : IActionResult
{
    internal static readonly JsonSerializerOptions JsonOptions = new(JsonSerializerDefaults.Web)
    {
        DefaultIgnoreCondition = JsonIgnoreCondition.WhenWritingNull,
        NumberHandling = JsonNumberHandling.AllowNamedFloatingPointLiterals,
    };

    public int StatusCode { get; } = statusCode;

    public object? Body { get; } = body;

    public string ContentType { get; } = contentType;

    /// <summary>Extra response headers (Location, Retry-After).</summary>
    public Dictionary<string, string> Headers { get; } = new(StringComparer.OrdinalIgnoreCase);

    public async Task ExecuteResultAsync(ActionContext context)
    {
        var response = context.HttpContext.Response;
        response.StatusCode = StatusCode;
        foreach (var (name, value) in Headers)
        {
            response.Headers[name] = value;
        }

        if (Body is not null)
        {
            response.ContentType = ContentType + "; charset=utf-8";
            await JsonSerializer.SerializeAsync(response.Body, Body, Body.GetType(), JsonOptions, context.HttpContext.RequestAborted).ConfigureAwait(false);
        }
    }
}

/// <summary>A stored artifact streamed to the client; the stream is disposed after copying.</summary>
internal sealed class StreamApiResult(Stream content, string contentType) : IActionResult
{
    public string ContentType { get; } = contentType;

    public async Task ExecuteResultAsync(ActionContext context)
    {
        await using (content.ConfigureAwait(false))
        {
            var response = context.HttpContext.Response;
            response.StatusCode = StatusCodes.Status200OK;
            response.ContentType = ContentType;
            await content.CopyToAsync(response.Body, context.HttpContext.RequestAborted).ConfigureAwait(false);
        }
    }
}

/// <summary>A text body (the dashboard's HTML) written straight to the response, like <see cref="JsonApiResult"/>.</summary>
internal sealed class TextApiResult(string content, string contentType) : IActionResult
{
    public string Content { get; } = content;

    public string ContentType { get; } = contentType;

    public async Task ExecuteResultAsync(ActionContext context)
    {
        var response = context.HttpContext.Response;
        response.StatusCode = StatusCodes.Status200OK;
        response.ContentType = ContentType;
        response.Headers.CacheControl = "no-store";
        await response.WriteAsync(Content, System.Text.Encoding.UTF8, context.HttpContext.RequestAborted).ConfigureAwait(false);
    }
}

/// <summary>RFC 9457 problem details; <see cref="Errors"/> maps a field's JSON path to its problems (ASP.NET's validation shape).</summary>
internal sealed record ProblemBody
{
    public required string Type { get; init; }

    public required string Title { get; init; }

    public required int Status { get; init; }

    public string? Detail { get; init; }

    public string? Instance { get; init; }

    public IReadOnlyDictionary<string, string[]>? Errors { get; init; }
}

internal static class Problems
{
    public const string ContentType = "application/problem+json";

    /// <summary>400 naming each bad field.</summary>
    public static JsonApiResult BadRequest(HttpRequest request, IReadOnlyList<ValidationError> errors) =>
        new(StatusCodes.Status400BadRequest, new ProblemBody
        {
            Type = "https://tools.ietf.org/html/rfc9110#section-15.5.1",
            Title = "The request is invalid.",
            Status = StatusCodes.Status400BadRequest,
            Detail = string.Join("; ", errors.Take(5)) + (errors.Count > 5 ? $"; … ({errors.Count} problems)" : ""),
            Instance = request.Path.Value,
            Errors = errors.GroupBy(e => e.Field, StringComparer.Ordinal).ToDictionary(g => g.Key, g => g.Select(e => e.Problem).ToArray(), StringComparer.Ordinal),
        }, ContentType);

    public static JsonApiResult BadRequest(HttpRequest request, string field, string problem) => BadRequest(request, [new ValidationError(field, problem)]);

    /// <summary>400 naming <c>runId</c>: a route's run id that is not a store id.</summary>
    public static JsonApiResult InvalidRunId(HttpRequest request, string runId) =>
        BadRequest(request, "runId", $"{HttpInput.Describe(runId)} is not a valid run id: must match {StoreIds.Pattern}");

    public static JsonApiResult NotFound(HttpRequest request, string detail) =>
        Problem(request, StatusCodes.Status404NotFound, "https://tools.ietf.org/html/rfc9110#section-15.5.5", "Not found.", detail);

    public static JsonApiResult Conflict(HttpRequest request, string detail) =>
        Problem(request, StatusCodes.Status409Conflict, "https://tools.ietf.org/html/rfc9110#section-15.5.10", "Conflict.", detail);

    private static JsonApiResult Problem(HttpRequest request, int status, string type, string title, string detail) =>
        new(status, new ProblemBody { Type = type, Title = title, Status = status, Detail = detail, Instance = request.Path.Value }, ContentType);
}
