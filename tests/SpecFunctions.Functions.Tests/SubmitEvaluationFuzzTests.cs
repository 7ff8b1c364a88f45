using System.Diagnostics;
using System.Text;
using System.Text.RegularExpressions;
using Microsoft.DurableTask;
using Microsoft.DurableTask.Client;
using Microsoft.Extensions.Logging.Abstractions;
using Moq;
using SpecFunctions.Functions.Http;
using Xunit.Abstractions;

namespace SpecFunctions.Functions.Tests;

/// <summary>
/// Thousands of mutations of a valid submission (bytes, types, nesting, unicode with lone surrogates, duplicate keys,
/// huge numbers) through the real <see cref="EvaluationsApi.SubmitEvaluation"/>: every answer is 202 or a 400
/// problem naming a field, never an exception.
/// </summary>
public sealed partial class SubmitEvaluationFuzzTests(ITestOutputHelper output) : IDisposable
{
    private const int Seed = 20261201;
    private const int Iterations = 6000;

    private const string ValidJson = """
        {"runId":"fuzz-1","suite":{"name":"mgsm","tasks":[{"id":"en","prompts":["one","two"],"trainingPrompts":["t"]},{"id":"de","prompts":["drei"]}]},
         "verifier":"demo-verifier","drafter":"demo-drafter",
         "settings":{"gamma":4,"temperature":0.5,"topK":3,"topP":0.9,"maxNewTokens":32,"seed":7,"ignoreEos":true},
         "mitigation":{"unfairnessThreshold":0.05,"speedupGapThreshold":0.25,"autoMitigate":false,"strategy":"s-cdf","speedupMargin":0.05}}
        """;

    private static readonly string[] HostileStrings =
    [
        "\\ud800", "a\\udc00b", "\\udc00\\ud800", "x\\ud83d", "\\ud83d\\ude00", "en\\n", "run-1\\n", "\\r\\n", "\\u0000", "", " ",
        "..", "../x", "EN", "\u212A", "\u0435n", "\\u2028", new string('x', 5000), "\uFFFF", "\\\\", "\\\"",
    ];

    private static readonly string[] HostileValues =
    [
        "1e400", "-1e400", "123456789012345678901234567890", "-0", "1.5", "9223372036854775808", "-9223372036854775809",
        "0", "-1", "2147483648", "1e-400", "null", "true", "false", "{}", "[]", "\"x\"", "[[[[[[[[[[[[[[[[[[[[1]]]]]]]]]]]]]]]]]]]",
        "{\"a\":{\"a\":{\"a\":{\"a\":{\"a\":{\"a\":{\"a\":{\"a\":{\"a\":{\"a\":{\"a\":{\"a\":{\"a\":{\"a\":{\"a\":{\"a\":1}}}}}}}}}}}}}}}}", "[\"\\ud800\"]",
    ];

    private readonly TestStore _store = new();

    public void Dispose() => _store.Dispose();

    [Fact]
    public async Task SubmitEvaluation_MutatedBodies_Always202Or400NeverAnException()
    {
        var client = new Mock<DurableTaskClient>(MockBehavior.Strict, "test");
        client.Setup(c => c.GetInstanceAsync(It.IsAny<string>(), It.IsAny<bool>(), It.IsAny<CancellationToken>())).ReturnsAsync((OrchestrationMetadata?)null);
        client.Setup(c => c.ScheduleNewOrchestrationInstanceAsync(It.IsAny<TaskName>(), It.IsAny<object?>(), It.IsAny<StartOrchestrationOptions?>(), It.IsAny<CancellationToken>()))
            .ReturnsAsync((TaskName _, object? _, StartOrchestrationOptions? options, CancellationToken _) => options!.InstanceId!);
        var api = new EvaluationsApi(TestParsers.Default(), _store.Store, TimeProvider.System, NullLogger<EvaluationsApi>.Instance);
        var rng = new Random(Seed);
        var counts = new Dictionary<int, int>();
        var fields = new HashSet<string>(StringComparer.Ordinal);
        var clock = Stopwatch.StartNew();

        for (var i = 0; i < Iterations; i++)
        {
            var body = Mutate(rng);
            var request = TestHttp.Request("POST", "/api/evaluations", body, "application/json");
            TestResponse response;
            try
            {
                response = await (await api.SubmitEvaluation(request, client.Object, CancellationToken.None)).ExecuteAsync(request);
            }
            catch (Exception ex)
            {
                Assert.Fail($"iteration {i}: {ex.GetType().Name}: {ex.Message}\nbody: {Convert.ToBase64String(body)}");
                throw;
            }

            counts[response.Status] = counts.GetValueOrDefault(response.Status) + 1;
            Assert.True(response.Status is 202 or 400, $"iteration {i}: status {response.Status}: {response.Text}");
            if (response.Status == 400)
            {
                Assert.Equal("application/problem+json; charset=utf-8", response.ContentType);
                var errors = response.Json.GetProperty("errors").EnumerateObject().ToList();
                Assert.NotEmpty(errors);
                Assert.DoesNotContain("   at ", response.Text, StringComparison.Ordinal);
                fields.UnionWith(errors.Select(e => e.Name));
            }
        }

        output.WriteLine($"{Iterations} bodies in {clock.Elapsed.TotalSeconds:F1} s: {string.Join(", ", counts.OrderBy(c => c.Key).Select(c => $"{c.Key}: {c.Value}"))}; {fields.Count} distinct fields named");
        // The mutations must exercise both answers and reach deep fields, or this test proves little.
        Assert.True(counts.GetValueOrDefault(202) > Iterations / 100, "too few mutations stayed valid");
        Assert.True(counts.GetValueOrDefault(400) > Iterations / 2, "too few mutations were refused");
        Assert.Contains("suite.tasks[0].prompts[0]", fields);
        Assert.Contains("$", fields);
        Assert.Contains("settings.gamma", fields);
    }

    private static byte[] Mutate(Random rng)
    {
        var text = ValidJson;
        var rounds = 1 + rng.Next(3);
        for (var r = 0; r < rounds; r++)
        {
            text = rng.Next(10) switch
            {
                // Benign edits keep some bodies valid, so the 202 path is exercised too.
                8 => ReplaceMatch(rng, text, StringLiteral(), _ => "\"ok\""),
                9 => text.Insert(rng.Next(text.Length + 1), Pick(rng, [" ", "\n", "\t"])),
                0 => ReplaceMatch(rng, text, StringLiteral(), _ => "\"" + Pick(rng, HostileStrings) + "\""),
                1 => ReplaceMatch(rng, text, ScalarValue(), m => m.Groups[1].Value + Pick(rng, HostileValues)),
                2 => ReplaceMatch(rng, text, Key(), m => m.Value + Pick(rng, HostileValues) + "," + m.Value),
                3 => ReplaceMatch(rng, text, ScalarValue(), m => m.Groups[1].Value + Wrap(rng, m.Value[m.Groups[1].Length..])),
                4 => ReplaceMatch(rng, text, Key(), _ => "\"" + Pick(rng, HostileStrings) + "\":"),
                5 => Delete(rng, text),
                6 => text.Insert(rng.Next(text.Length + 1), Pick(rng, ["{", "}", "[", "]", ":", ",", "\"", "\\", " ", "\\u", "/*", "NaN"])),
                _ => ReplaceMatch(rng, text, Key(), m => "\"" + m.Value[1..^2] + Pick(rng, ["\\n", "\\ud800", " ", "X"]) + "\":"),
            };
        }

        var bytes = Encoding.UTF8.GetBytes(text);
        if (rng.Next(6) == 0)
        {
            // Raw bytes: invalid UTF-8, CESU-8 surrogates, overlong forms, NUL, a BOM in the middle.
            var insert = Pick<byte[]>(rng, [[0xFF], [0xC0, 0xAF], [0xED, 0xA0, 0x80], [0x00], [0xEF, 0xBB, 0xBF], [0xE2, 0x82], [(byte)rng.Next(256)]]);
            var at = rng.Next(bytes.Length + 1);
            bytes = [.. bytes[..at], .. insert, .. bytes[at..]];
        }

        return bytes;
    }

    private static string ReplaceMatch(Random rng, string text, Regex regex, Func<System.Text.RegularExpressions.Match, string> replacement)
    {
        // String values only (not keys): every literal is matched from the start, so a key's closing quote never opens one.
        var matches = regex.Matches(text).Where(m => regex != StringLiteral() || !text.AsSpan(m.Index + m.Length).TrimStart().StartsWith(":")).ToList();
        if (matches.Count == 0)
        {
            return text;
        }

        var match = matches[rng.Next(matches.Count)];
        return string.Concat(text.AsSpan(0, match.Index), replacement(match), text.AsSpan(match.Index + match.Length));
    }

    private static string Wrap(Random rng, string value)
    {
        var depth = 1 + rng.Next(24);
        return rng.Next(2) == 0
            ? new string('[', depth) + value + new string(']', depth)
            : string.Concat(Enumerable.Repeat("{\"a\":", depth)) + value + new string('}', depth);
    }

    private static string Delete(Random rng, string text)
    {
        var start = rng.Next(text.Length);
        return text.Remove(start, Math.Min(1 + rng.Next(8), text.Length - start));
    }

    private static T Pick<T>(Random rng, IReadOnlyList<T> items) => items[rng.Next(items.Count)];

    [GeneratedRegex("\"(?:[^\"\\\\]|\\\\.)*\"")]
    private static partial Regex StringLiteral();

    [GeneratedRegex("(:\\s*)(\"(?:[^\"\\\\]|\\\\.)*\"|-?[0-9][0-9.eE+-]*|true|false|null)")]
    private static partial Regex ScalarValue();

    [GeneratedRegex("\"[A-Za-z]+\":")]
    private static partial Regex Key();
}
