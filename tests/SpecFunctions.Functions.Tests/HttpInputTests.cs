using System.Text;
using Microsoft.Extensions.Logging;
using SpecFunctions.Core.Evaluation;
using SpecFunctions.Functions.Http;

namespace SpecFunctions.Functions.Tests;

/// <summary>
/// <see cref="HttpInput.ReadSubmissionAsync"/>, the one reading of a submission behind <c>POST /api/evaluations</c> and
/// <c>PUT /api/audit/suites/{name}</c>: the parser's request, or one 400 naming the fields, a rejection logged once.
/// </summary>
public sealed class HttpInputTests
{
    private const string Valid = """
        {"runId":"r1","suite":{"name":"s","tasks":[{"id":"en","prompts":["one"]}]},"verifier":"demo-verifier","drafter":"demo-drafter"}
        """;

    private readonly RecordingLogger _logger = new();

    private static HttpRequestAndBody Put(string body, string? contentType = "application/json") =>
        new(TestHttp.Request("PUT", "/api/audit/suites/s", Encoding.UTF8.GetBytes(body), contentType), Encoding.UTF8.GetBytes(body));

    [Fact]
    public async Task ReadSubmissionAsync_ValidBody_TheParsersRequestNothingLogged()
    {
        var (request, bytes) = Put(Valid);
        var expected = TestParsers.Default().Parse(bytes).Value!;

        var (submission, problem) = await HttpInput.ReadSubmissionAsync(request, TestParsers.Default(), _logger, CancellationToken.None);

        Assert.Null(problem);
        Assert.NotNull(submission);
        Assert.Equal((expected.RunId, expected.Suite.Name, expected.Verifier, expected.Drafter), (submission.RunId, submission.Suite.Name, submission.Verifier, submission.Drafter));
        Assert.Equal(["en"], submission.Suite.Tasks.Select(t => t.Id));
        Assert.Empty(_logger.Entries);
    }

    [Fact]
    public async Task ReadSubmissionAsync_InvalidSubmission_400NamingEveryFieldLoggedOnce()
    {
        var (request, bytes) = Put("""{"suite":1,"verifier":"nope"}""");
        var errors = TestParsers.Default().Parse(bytes).Errors;

        var (submission, problem) = await HttpInput.ReadSubmissionAsync(request, TestParsers.Default(), _logger, CancellationToken.None);

        Assert.Null(submission);
        var response = await problem!.ExecuteAsync(request);
        Assert.Equal(400, response.Status);
        Assert.Equal(errors.Select(e => e.Field).Distinct().Order(StringComparer.Ordinal), response.Json.GetProperty("errors").EnumerateObject().Select(p => p.Name).Order(StringComparer.Ordinal));
        Assert.True(errors.Count >= 2, $"{errors.Count} error(s)");
        var entry = Assert.Single(_logger.Entries);
        Assert.Equal(100, entry.EventId);
        Assert.Equal($"Rejected an evaluation submission: {errors.Count} problem(s), first at {errors[0].Field}", entry.Message);
    }

    [Theory]
    [InlineData("text/plain", "Content-Type")]
    [InlineData("application/json", "$")]
    public async Task ReadSubmissionAsync_WrongTypeOrTooLarge_400BeforeParsingNothingLogged(string contentType, string field)
    {
        var limit = TestParsers.Default().Limits.MaxBodyBytes;
        var body = field == "$" ? Valid + new string(' ', limit) : Valid;
        var (request, _) = Put(body, contentType);

        var (submission, problem) = await HttpInput.ReadSubmissionAsync(request, TestParsers.Default(), _logger, CancellationToken.None);

        Assert.Null(submission);
        var response = await problem!.ExecuteAsync(request);
        Assert.Equal(400, response.Status);
        var message = Assert.Single(response.Json.GetProperty("errors").GetProperty(field).EnumerateArray()).GetString();
        Assert.Equal(field == "$" ? $"the body is larger than the limit of {limit} bytes" : "must be application/json (UTF-8), got 'text/plain'", message);
        Assert.Empty(_logger.Entries);
    }

    private sealed record HttpRequestAndBody(Microsoft.AspNetCore.Http.HttpRequest Request, byte[] Body);

    /// <summary>The log entries written, with their event ids and formatted messages.</summary>
    private sealed class RecordingLogger : ILogger
    {
        public List<(int EventId, string Message)> Entries { get; } = [];

        public IDisposable? BeginScope<TState>(TState state)
            where TState : notnull => null;

        public bool IsEnabled(LogLevel logLevel) => true;

        public void Log<TState>(LogLevel logLevel, EventId eventId, TState state, Exception? exception, Func<TState, Exception?, string> formatter) =>
            Entries.Add((eventId.Id, formatter(state, exception)));
    }
}
