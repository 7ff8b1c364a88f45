using System.Text;
using System.Text.Json.Nodes;
using Microsoft.DurableTask.Client;
using Microsoft.Extensions.Logging.Abstractions;
using Moq;
using SpecFunctions.Core.Evaluation;
using SpecFunctions.Functions.Http;

namespace SpecFunctions.Functions.Tests;

/// <summary>Every bad submission: 400 problem+json naming the field, nothing scheduled, nothing written.</summary>
public sealed class SubmitEvaluationBadInputTests : IDisposable
{
    private const string ValidJson = """
        {"suite":{"name":"mgsm","tasks":[{"id":"en","prompts":["one","two"]},{"id":"de","prompts":["drei"]}]},
         "verifier":"demo-verifier","drafter":"demo-drafter",
         "settings":{"gamma":4,"temperature":0.5},"mitigation":{"unfairnessThreshold":0.05}}
        """;

    private readonly TestStore _store = new();

    public void Dispose() => _store.Dispose();

    private sealed record BadCase(string ExpectedField, byte[] Body, string? ContentType = "application/json", bool SendLength = true);

    private static BadCase Edit(string field, Action<JsonObject> edit)
    {
        var root = JsonNode.Parse(ValidJson)!.AsObject();
        edit(root);
        return new BadCase(field, Encoding.UTF8.GetBytes(root.ToJsonString()));
    }

    private static BadCase Raw(string field, string body, string? contentType = "application/json") => new(field, Encoding.UTF8.GetBytes(body), contentType);

    private static JsonObject Task0(JsonObject r) => r["suite"]!["tasks"]![0]!.AsObject();

    private static JsonObject Settings(JsonObject r) => r["settings"]!.AsObject();

    private static JsonArray Prompts(int count, int length = 3) => [.. Enumerable.Range(0, count).Select(i => (JsonNode?)JsonValue.Create(new string('p', length)))];

    private static readonly Dictionary<string, BadCase> Cases = new()
    {
        // Transport
        ["content type text/plain"] = new("Content-Type", Encoding.UTF8.GetBytes(ValidJson), "text/plain"),
        ["content type missing"] = new("Content-Type", Encoding.UTF8.GetBytes(ValidJson), null),
        ["content type xml"] = new("Content-Type", Encoding.UTF8.GetBytes(ValidJson), "application/xml"),
        ["content type json latin1"] = new("Content-Type", Encoding.UTF8.GetBytes(ValidJson), "application/json; charset=iso-8859-1"),
        ["content type garbage"] = new("Content-Type", Encoding.UTF8.GetBytes(ValidJson), ";;;"),
        ["body over 1 MB"] = Edit("$", r => r["suite"]!["name"] = new string('x', 1024 * 1024)),
        ["body over 1 MB without Content-Length"] = Edit("$", r => r["suite"]!["name"] = new string('x', 1024 * 1024)) with { SendLength = false },
        ["non-UTF-8 byte in prompt"] = new("$", Encoding.UTF8.GetBytes(ValidJson.Replace("drei", "dr\u00ffi")).Select(b => b == 0xC3 ? (byte)0xFF : b).ToArray()),
        ["lone surrogate bytes"] = new("$", [.. Encoding.UTF8.GetBytes("{\"suite\":\""), 0xED, 0xA0, 0x80, .. Encoding.UTF8.GetBytes("\"}")]),
        ["empty body"] = Raw("$", ""),
        ["whitespace body"] = Raw("$", "  \n "),
        // JSON syntax
        ["truncated JSON"] = Raw("$", ValidJson[..40]),
        ["trailing comma"] = Raw("$", ValidJson.TrimEnd().TrimEnd('}') + ",}"),
        ["comment"] = Raw("$", "/* hi */" + ValidJson),
        ["single quotes"] = Raw("$", ValidJson.Replace('"', '\'')),
        ["root is array"] = Raw("$", "[" + ValidJson + "]"),
        ["root is string"] = Raw("$", "\"evaluate\""),
        ["nested too deep"] = Raw("$", new string('[', 40) + new string(']', 40)),
        // Required fields and types
        ["suite missing"] = Edit("suite", r => r.Remove("suite")),
        ["verifier missing"] = Edit("verifier", r => r.Remove("verifier")),
        ["drafter missing"] = Edit("drafter", r => r.Remove("drafter")),
        ["suite is string"] = Edit("suite", r => r["suite"] = "mgsm"),
        ["verifier null"] = Edit("verifier", r => r["verifier"] = null),
        ["verifier number"] = Edit("verifier", r => r["verifier"] = 7),
        ["suite name missing"] = Edit("suite.name", r => r["suite"]!.AsObject().Remove("name")),
        ["suite name blank"] = Edit("suite.name", r => r["suite"]!["name"] = "   "),
        ["tasks missing"] = Edit("suite.tasks", r => r["suite"]!.AsObject().Remove("tasks")),
        ["tasks empty"] = Edit("suite.tasks", r => r["suite"]!["tasks"] = new JsonArray()),
        ["tasks is object"] = Edit("suite.tasks", r => r["suite"]!["tasks"] = new JsonObject()),
        ["task is number"] = Edit("suite.tasks[1]", r => r["suite"]!["tasks"]![1] = 5),
        ["too many tasks"] = Edit("suite.tasks", r => r["suite"]!["tasks"] = new JsonArray([.. Enumerable.Range(0, 65).Select(i => (JsonNode?)new JsonObject { ["id"] = $"t{i}", ["prompts"] = Prompts(1) })])),
        // Task ids
        ["task id missing"] = Edit("suite.tasks[0].id", r => Task0(r).Remove("id")),
        ["task id empty"] = Edit("suite.tasks[0].id", r => Task0(r)["id"] = ""),
        ["task id duplicate"] = Edit("suite.tasks[1].id", r => r["suite"]!["tasks"]![1]!["id"] = "en"),
        ["task id path traversal"] = Edit("suite.tasks[0].id", r => Task0(r)["id"] = "../etc"),
        ["task id slash"] = Edit("suite.tasks[0].id", r => Task0(r)["id"] = "a/b"),
        ["task id backslash"] = Edit("suite.tasks[0].id", r => Task0(r)["id"] = "a\\b"),
        ["task id upper case"] = Edit("suite.tasks[0].id", r => Task0(r)["id"] = "EN"),
        ["task id 65 chars"] = Edit("suite.tasks[0].id", r => Task0(r)["id"] = new string('a', 65)),
        ["task id number"] = Edit("suite.tasks[0].id", r => Task0(r)["id"] = 1),
        // Prompts
        ["prompts missing"] = Edit("suite.tasks[0].prompts", r => Task0(r).Remove("prompts")),
        ["prompts empty"] = Edit("suite.tasks[0].prompts", r => Task0(r)["prompts"] = new JsonArray()),
        ["prompts is string"] = Edit("suite.tasks[0].prompts", r => Task0(r)["prompts"] = "one"),
        ["prompt empty"] = Edit("suite.tasks[0].prompts[1]", r => Task0(r)["prompts"]![1] = ""),
        ["prompt whitespace"] = Edit("suite.tasks[0].prompts[0]", r => Task0(r)["prompts"]![0] = " \t\n"),
        ["prompt number"] = Edit("suite.tasks[0].prompts[0]", r => Task0(r)["prompts"]![0] = 3),
        ["prompt nested array"] = Edit("suite.tasks[0].prompts[1]", r => Task0(r)["prompts"]![1] = new JsonArray("a")),
        ["prompt too long"] = Edit("suite.tasks[0].prompts[0]", r => Task0(r)["prompts"]![0] = new string('p', 4097)),
        ["too many prompts"] = Edit("suite.tasks[0].prompts", r => Task0(r)["prompts"] = Prompts(257)),
        // Settings
        ["gamma 0"] = Edit("settings.gamma", r => Settings(r)["gamma"] = 0),
        ["gamma 65"] = Edit("settings.gamma", r => Settings(r)["gamma"] = 65),
        ["gamma string"] = Edit("settings.gamma", r => Settings(r)["gamma"] = "4"),
        ["gamma fractional"] = Edit("settings.gamma", r => Settings(r)["gamma"] = 2.5),
        ["gamma huge"] = Edit("settings.gamma", r => Settings(r)["gamma"] = JsonNode.Parse("1e30")),
        ["temperature negative"] = Edit("settings.temperature", r => Settings(r)["temperature"] = -0.1),
        ["temperature NaN string"] = Edit("settings.temperature", r => Settings(r)["temperature"] = "NaN"),
        ["temperature Infinity string"] = Edit("settings.temperature", r => Settings(r)["temperature"] = "Infinity"),
        ["temperature overflow"] = Raw("settings.temperature", ValidJson.Replace("0.5", "1e400")),
        ["temperature bare NaN"] = Raw("$", ValidJson.Replace("0.5", "NaN")),
        ["topP zero"] = Edit("settings.topP", r => Settings(r)["topP"] = 0),
        ["topP above one"] = Edit("settings.topP", r => Settings(r)["topP"] = 1.5),
        ["topK negative"] = Edit("settings.topK", r => Settings(r)["topK"] = -1),
        ["maxNewTokens zero"] = Edit("settings.maxNewTokens", r => Settings(r)["maxNewTokens"] = 0),
        ["maxNewTokens over limit"] = Edit("settings.maxNewTokens", r => Settings(r)["maxNewTokens"] = 1025),
        ["seed fractional"] = Edit("settings.seed", r => Settings(r)["seed"] = 1.5),
        ["ignoreEos string"] = Edit("settings.ignoreEos", r => Settings(r)["ignoreEos"] = "true"),
        ["ignoreEos number"] = Edit("settings.ignoreEos", r => Settings(r)["ignoreEos"] = 1),
        ["settings is array"] = Edit("settings", r => r["settings"] = new JsonArray()),
        ["settings null"] = Edit("settings", r => r["settings"] = null),
        // Mitigation
        ["threshold negative"] = Edit("mitigation.unfairnessThreshold", r => r["mitigation"]!["unfairnessThreshold"] = -1),
        ["gap threshold string"] = Edit("mitigation.speedupGapThreshold", r => r["mitigation"]!["speedupGapThreshold"] = "0.2"),
        ["autoMitigate string"] = Edit("mitigation.autoMitigate", r => r["mitigation"]!["autoMitigate"] = "yes"),
        // Models
        ["unknown verifier"] = Edit("verifier", r => r["verifier"] = "gpt-9"),
        ["unknown drafter"] = Edit("drafter", r => r["drafter"] = "demo-drafter-v2"),
        ["verifier path"] = Edit("verifier", r => r["verifier"] = "../models/demo-verifier"),
        // Unknown and duplicate fields
        ["unknown top-level field"] = Edit("priority", r => r["priority"] = "high"),
        ["unknown settings field"] = Edit("settings.beamWidth", r => Settings(r)["beamWidth"] = 4),
        ["unknown task field"] = Edit("suite.tasks[0].weight", r => Task0(r)["weight"] = 2),
        ["wrong-case field"] = Edit("Verifier", r => r["Verifier"] = "demo-verifier"),
        ["duplicate field"] = Raw("verifier", ValidJson.Replace("\"verifier\":\"demo-verifier\"", "\"verifier\":\"demo-verifier\",\"verifier\":\"demo-drafter\"")),
        // Run id
        ["runId with spaces"] = Edit("runId", r => r["runId"] = "Run 1"),
        ["runId traversal"] = Edit("runId", r => r["runId"] = "../x"),
        ["runId number"] = Edit("runId", r => r["runId"] = 42),
        ["runId empty"] = Edit("runId", r => r["runId"] = ""),
        // Ids anchored at the true end: .NET's $ matched before a final \n.
        ["runId trailing newline"] = Edit("runId", r => r["runId"] = "run-1\n"),
        ["runId trailing CRLF"] = Edit("runId", r => r["runId"] = "run-1\r\n"),
        ["task id trailing newline"] = Edit("suite.tasks[0].id", r => Task0(r)["id"] = "en\n"),
        ["task ids en and en newline"] = Edit("suite.tasks[1].id", r => r["suite"]!["tasks"]![1]!["id"] = "en\n"),
        // Invalid UTF-16 (lone surrogate escapes): a field error, never an exception.
        ["lone surrogate in prompt"] = Raw("suite.tasks[0].prompts[0]", ValidJson.Replace("\"one\"", "\"\\ud800\"")),
        ["lone low surrogate in prompt"] = Raw("suite.tasks[1].prompts[0]", ValidJson.Replace("\"drei\"", "\"dr\\udc00ei\"")),
        ["reversed surrogates in prompt"] = Raw("suite.tasks[0].prompts[1]", ValidJson.Replace("\"two\"", "\"\\udc00\\ud800\"")),
        ["lone surrogate in task id"] = Raw("suite.tasks[0].id", ValidJson.Replace("\"en\"", "\"\\ud800\"")),
        ["lone surrogate in suite name"] = Raw("suite.name", ValidJson.Replace("\"mgsm\"", "\"mgsm\\udfff\"")),
        ["lone surrogate in runId"] = Raw("runId", "{\"runId\":\"\\ud800\"," + ValidJson.TrimStart()[1..]),
        ["lone surrogate in verifier"] = Raw("verifier", ValidJson.Replace("\"demo-verifier\"", "\"\\ud800\"")),
        ["lone surrogate in field name"] = Raw("settings", ValidJson.Replace("\"gamma\"", "\"\\ud800\"")),
        ["promptsFile in a body"] = Edit("suite.tasks[1].promptsFile", r => r["suite"]!["tasks"]![1]!["promptsFile"] = "/etc/shadow"),
    };

    public static TheoryData<string> CaseNames => [.. Cases.Keys];

    [Fact]
    public void Cases_AtLeastForty()
    {
        Assert.True(Cases.Count >= 40, $"only {Cases.Count} cases");
    }

    [Theory]
    [MemberData(nameof(CaseNames))]
    public async Task SubmitEvaluation_BadInput_400ProblemNamingFieldNothingScheduledOrWritten(string caseName)
    {
        var bad = Cases[caseName];
        var client = new Mock<DurableTaskClient>(MockBehavior.Strict, "test");
        var api = new EvaluationsApi(TestParsers.Default(), _store.Store, TimeProvider.System, NullLogger<EvaluationsApi>.Instance);
        var request = TestHttp.Request("POST", "/api/evaluations", bad.Body, bad.ContentType, sendLength: bad.SendLength);

        var response = await (await api.SubmitEvaluation(request, client.Object, CancellationToken.None)).ExecuteAsync(request);

        Assert.Equal(400, response.Status);
        Assert.Equal("application/problem+json; charset=utf-8", response.ContentType);
        var problem = response.Json;
        Assert.Equal(400, problem.GetProperty("status").GetInt32());
        Assert.Equal("/api/evaluations", problem.GetProperty("instance").GetString());
        var fields = problem.GetProperty("errors").EnumerateObject().Select(p => p.Name).ToList();
        Assert.Contains(bad.ExpectedField, fields);
        Assert.False(string.IsNullOrWhiteSpace(problem.GetProperty("errors").GetProperty(bad.ExpectedField)[0].GetString()));
        // Strict mock: any call on the client (schedule, lookup) would have thrown.
        client.VerifyNoOtherCalls();
        Assert.Empty(_store.Files);
    }
}

internal static class TestParsers
{
    public static EvaluationRequestParser Default(Func<string>? newRunId = null) => new(
        new EvaluationLimits(),
        name => name is "demo-verifier" or "demo-drafter",
        newRunId ?? (() => "run-generated"));
}
