using System.Buffers;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.Logging;
using Microsoft.Net.Http.Headers;
using SpecFunctions.Core.Evaluation;

namespace SpecFunctions.Functions.Http;

/// <summary>Reading request bodies safely: content type first, then at most the size limit.</summary>
internal static class HttpInput
{
    /// <summary>The body of a JSON request, or the 400 answer naming <c>Content-Type</c> or the body (<c>$</c>).</summary>
    public static async Task<(ReadOnlyMemory<byte> Body, JsonApiResult? Problem)> ReadJsonAsync(HttpRequest request, int limit, CancellationToken cancellationToken)
    {
        if (!IsJson(request.ContentType))
        {
            return (default, Problems.BadRequest(request, "Content-Type", $"must be application/json (UTF-8), got {Describe(request.ContentType)}"));
        }

        var body = await ReadBodyAsync(request, limit, cancellationToken);
        return body is null
            ? (default, Problems.BadRequest(request, "$", $"the body is larger than the limit of {limit} bytes"))
            : (body.Value, null);
    }

    /// <summary>
    /// The submission in a JSON request's body (<c>POST /api/evaluations</c>, <c>PUT /api/audit/suites/{name}</c>), or the
    /// 400 answer: the content type, the size, or every problem <paramref name="parser"/> names (then logged as a rejected
    /// submission).
    /// </summary>
    public static async Task<(EvaluationRequest? Submission, JsonApiResult? Problem)> ReadSubmissionAsync(
        HttpRequest request, EvaluationRequestParser parser, ILogger logger, CancellationToken cancellationToken)
    {
        var (body, problem) = await ReadJsonAsync(request, parser.Limits.MaxBodyBytes, cancellationToken);
        if (problem is not null)
        {
            return (null, problem);
        }

        var parsed = parser.Parse(body);
        if (!parsed.IsValid)
        {
            logger.SubmissionRejected(parsed.Errors.Count, parsed.Errors[0].Field);
            return (null, Problems.BadRequest(request, parsed.Errors));
        }

        return (parsed.Value!, null);
    }

    internal static bool IsJson(string? contentType) =>
        MediaTypeHeaderValue.TryParse(contentType, out var media)
        && media.MediaType.Equals("application/json", StringComparison.OrdinalIgnoreCase)
        && (!media.Charset.HasValue || media.Charset.Equals("utf-8", StringComparison.OrdinalIgnoreCase));

    /// <summary>The body, or null when it exceeds <paramref name="limit"/> bytes (read no further than limit + 1).</summary>
    internal static async Task<ReadOnlyMemory<byte>?> ReadBodyAsync(HttpRequest request, int limit, CancellationToken cancellationToken)
    {
        if (request.ContentLength > limit)
        {
            return null;
        }

        var buffer = new ArrayBufferWriter<byte>(Math.Min(limit + 1, 64 * 1024));
        while (true)
        {
            var memory = buffer.GetMemory(8192);
            var read = await request.Body.ReadAsync(memory, cancellationToken);
            if (read == 0)
            {
                return buffer.WrittenMemory;
            }

            buffer.Advance(read);
            if (buffer.WrittenCount > limit)
            {
                return null;
            }
        }
    }

    /// <summary>The query parameter <paramref name="field"/> as one whole number; <paramref name="fallback"/> when absent; a problem added otherwise.</summary>
    internal static int QueryInteger(HttpRequest request, string field, int fallback, List<ValidationError> errors)
    {
        var values = request.Query[field];
        if (values.Count == 0)
        {
            return fallback;
        }

        if (values.Count > 1 || !int.TryParse(values[0], System.Globalization.NumberStyles.None, System.Globalization.CultureInfo.InvariantCulture, out var value))
        {
            errors.Add(new ValidationError(field, $"must be one whole number, got {Describe(values.ToString())}"));
            return fallback;
        }

        return value;
    }

    /// <summary>The query parameter <paramref name="field"/>, null when absent; a problem added when given twice.</summary>
    internal static string? QueryText(HttpRequest request, string field, List<ValidationError> errors)
    {
        var values = request.Query[field];
        if (values.Count > 1)
        {
            errors.Add(new ValidationError(field, "must be given at most once"));
        }

        return values.Count == 0 ? null : values[0];
    }

    internal static string Describe(string? value) => value switch
    {
        null => "nothing",
        "" => "an empty value",
        _ => "'" + new string(value.Take(64).Select(c => char.IsControl(c) ? '?' : c).ToArray()) + (value.Length > 64 ? "…'" : "'"),
    };
}
