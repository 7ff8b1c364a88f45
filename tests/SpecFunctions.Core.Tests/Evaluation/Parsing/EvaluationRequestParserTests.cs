using System.Text;
using SpecFunctions.Core.Evaluation;

namespace SpecFunctions.Core.Tests.Evaluation;

public class EvaluationRequestParserTests
{
    private const string Minimal = """
        {"suite":{"name":"mgsm","tasks":[{"id":"en","prompts":["one","two"]},{"id":"de","prompts":["drei"]}]},
         "verifier":"demo-verifier","drafter":"demo-drafter"}
        """;

    private int _generated;

    private EvaluationRequestParser Parser(EvaluationLimits? limits = null) => new(
        limits ?? new EvaluationLimits(),
        name => name is "demo-verifier" or "demo-drafter",
        () => $"generated-{++_generated}");

    private static ReadOnlyMemory<byte> Bytes(string json) => Encoding.UTF8.GetBytes(json);

    [Fact]
    public void Parse_MinimalRequest_DefaultsAndGeneratedRunId()
    {
        var result = Parser().Parse(Bytes(Minimal));

        Assert.True(result.IsValid, string.Join("\n", result.Errors));
        var request = result.Value!;
        Assert.Equal("generated-1", request.RunId);
        Assert.Equal("mgsm", request.Suite.Name);
        Assert.Equal(["en", "de"], request.Suite.Tasks.Select(t => t.Id));
        Assert.Equal(["one", "two"], request.Suite.Tasks[0].Prompts);
        Assert.Equal(("demo-verifier", "demo-drafter"), (request.Verifier, request.Drafter));
        Assert.Equal(new EvaluationSettings(), request.Settings);
        Assert.Equal(new MitigationPolicy(), request.Mitigation);
    }

    [Fact]
    public void Parse_FullRequest_EveryFieldRead()
    {
        var json = """
            {"runId":"nightly_7","suite":{"name":"s","tasks":[{"id":"t-1","prompts":["p"]}]},
             "verifier":"demo-verifier","drafter":"demo-drafter",
             "settings":{"gamma":64,"temperature":0.7,"topK":40,"topP":0.9,"maxNewTokens":1024,"seed":-3,"ignoreEos":true,"repeats":5},
             "mitigation":{"unfairnessThreshold":0,"speedupGapThreshold":0.5,"autoMitigate":true}}
            """;

        var request = Parser().Parse(Bytes(json)).Value!;

        Assert.Equal("nightly_7", request.RunId);
        Assert.Equal(0, _generated);
        Assert.Equal(new EvaluationSettings { Gamma = 64, Temperature = 0.7, TopK = 40, TopP = 0.9, MaxNewTokens = 1024, Seed = -3, IgnoreEos = true, Repeats = 5 }, request.Settings);
        Assert.Equal(new MitigationPolicy { UnfairnessThreshold = 0, SpeedupGapThreshold = 0.5, AutoMitigate = true }, request.Mitigation);
    }

    [Fact]
    public void Parse_MitigationStrategyAndTrainingPrompts_Read()
    {
        var json = """
            {"suite":{"name":"s","tasks":[{"id":"en","prompts":["p"],"trainingPrompts":["a","b"]}]},
             "verifier":"demo-verifier","drafter":"demo-drafter",
             "mitigation":{"strategy":"balanced","speedupMargin":0.1}}
            """;

        var result = Parser().Parse(Bytes(json));

        Assert.True(result.IsValid, string.Join("\n", result.Errors));
        Assert.Equal(["a", "b"], result.Value!.Suite.Tasks[0].TrainingPrompts);
        Assert.Equal(("balanced", 0.1), (result.Value.Mitigation.Strategy, result.Value.Mitigation.SpeedupMargin));
    }

    [Theory]
    [InlineData("\"mitigation\":{\"strategy\":\"magic\"}", "mitigation.strategy")]
    [InlineData("\"mitigation\":{\"speedupMargin\":1}", "mitigation.speedupMargin")]
    [InlineData("\"mitigation\":{\"speedupMargin\":-0.1}", "mitigation.speedupMargin")]
    [InlineData("\"mitigation\":{\"meanSpeedupTolerance\":0.02}", "mitigation.meanSpeedupTolerance")]   // replaced by speedupMargin
    [InlineData("\"mitigation\":{\"strategy\":3}", "mitigation.strategy")]
    public void Parse_BadMitigation_NamesTheField(string fragment, string field)
    {
        var json = "{\"suite\":{\"name\":\"s\",\"tasks\":[{\"id\":\"en\",\"prompts\":[\"p\"],\"trainingPrompts\":[]}]},\"verifier\":\"demo-verifier\",\"drafter\":\"demo-drafter\"," + fragment + "}";
        var result = Parser().Parse(Bytes(json));
        Assert.False(result.IsValid);
        Assert.Contains(result.Errors, e => e.Field == field);
        Assert.Contains(result.Errors, e => e.Field == "suite.tasks[0].trainingPrompts");
    }

    [Fact]
    public void Parse_SeveralProblems_AllReportedWithPaths()
    {
        var json = """
            {"suite":{"name":"s","tasks":[{"id":"ok","prompts":["p"]},{"id":"Bad/Id","prompts":["p", " "]}]},
             "verifier":"nope","drafter":"demo-drafter","settings":{"gamma":0,"topP":0}}
            """;

        var result = Parser().Parse(Bytes(json));

        Assert.False(result.IsValid);
        Assert.Null(result.Value);
        Assert.Equal(
            ["suite.tasks[1].id", "suite.tasks[1].prompts[1]", "verifier", "settings.gamma", "settings.topP"],
            result.Errors.Select(e => e.Field));
        Assert.Equal(0, _generated);
    }

    [Theory]
    [InlineData("gamma", "1")]
    [InlineData("gamma", "64")]
    [InlineData("temperature", "0")]
    [InlineData("topK", "0")]
    [InlineData("topP", "1")]
    [InlineData("topP", "1e-9")]
    [InlineData("maxNewTokens", "1")]
    [InlineData("maxNewTokens", "1024")]
    [InlineData("repeats", "1")]
    [InlineData("repeats", "10")]
    [InlineData("promptsPerShard", "1")]
    [InlineData("promptsPerShard", "100000")]
    public void Parse_SettingAtBoundary_Accepted(string field, string value)
    {
        var json = Minimal.TrimEnd().TrimEnd('}') + ",\"settings\":{\"" + field + "\":" + value + "}}";

        var result = Parser().Parse(Bytes(json));

        Assert.True(result.IsValid, string.Join("\n", result.Errors));
    }

    [Theory]
    [InlineData("0")]
    [InlineData("11")]
    [InlineData("2.5")]
    [InlineData("\"3\"")]
    public void Parse_RepeatsOutOfRange_NamesTheField(string value)
    {
        var json = Minimal.TrimEnd().TrimEnd('}') + ",\"settings\":{\"repeats\":" + value + "}}";

        var result = Parser().Parse(Bytes(json));

        Assert.False(result.IsValid);
        Assert.Equal(["settings.repeats"], result.Errors.Select(e => e.Field));
    }

    [Theory]
    [InlineData("0")]
    [InlineData("100001")]
    [InlineData("2.5")]
    [InlineData("null")]
    public void Parse_PromptsPerShardOutOfRange_NamesTheField(string value)
    {
        var json = Minimal.TrimEnd().TrimEnd('}') + ",\"settings\":{\"promptsPerShard\":" + value + "}}";

        var result = Parser().Parse(Bytes(json));

        Assert.False(result.IsValid);
        Assert.Equal(["settings.promptsPerShard"], result.Errors.Select(e => e.Field));
    }

    [Fact]
    public void Parse_PromptsPerShard_ReadWhenGiven_NullOtherwise()
    {
        var given = Parser().Parse(Bytes(Minimal.TrimEnd().TrimEnd('}') + ",\"settings\":{\"promptsPerShard\":25}}"));
        var absent = Parser().Parse(Bytes(Minimal));

        Assert.Equal(25, given.Value!.Settings.PromptsPerShard);
        Assert.Null(absent.Value!.Settings.PromptsPerShard);
    }

    [Theory]
    [InlineData("0", 0)]
    [InlineData("2", 2)]
    [InlineData("64", 64)]
    public void Parse_TaskGamma_Read(string value, int expected)
    {
        var json = Minimal.Replace("\"prompts\":[\"drei\"]", "\"prompts\":[\"drei\"],\"gamma\":" + value);

        var request = Parser().Parse(Bytes(json)).Value!;

        Assert.Equal(expected, request.Suite.Tasks[1].Gamma);
        Assert.Null(request.Suite.Tasks[0].Gamma);
    }

    [Theory]
    [InlineData("-1")]
    [InlineData("65")]
    [InlineData("null")]
    public void Parse_TaskGammaOutOfRange_NamesTheField(string value)
    {
        var json = Minimal.Replace("\"prompts\":[\"drei\"]", "\"prompts\":[\"drei\"],\"gamma\":" + value);

        var result = Parser().Parse(Bytes(json));

        Assert.False(result.IsValid);
        Assert.Equal(["suite.tasks[1].gamma"], result.Errors.Select(e => e.Field));
    }

    [Fact]
    public void ContentKey_DependsOnRepeats()
    {
        var settings = new Core.Storage.RunSettings { Gamma = 4, MaxNewTokens = 64 };
        var sha = new string('a', 64);
        var one = Core.Storage.ContentKey.Compute(sha, sha, settings with { Repeats = 1 }, ["p"]);
        var three = Core.Storage.ContentKey.Compute(sha, sha, settings with { Repeats = 3 }, ["p"]);

        Assert.NotEqual(one, three);
        Assert.Equal(three, Core.Storage.ContentKey.Compute(sha, sha, settings with { Repeats = 3 }, ["p"]));
    }

    [Fact]
    public void Parse_LimitsAtMaximum_Accepted()
    {
        var limits = new EvaluationLimits { MaxTasks = 3, MaxPromptsPerTask = 2, MaxPromptChars = 10 };
        var json = """
            {"suite":{"name":"s","tasks":[{"id":"a","prompts":["0123456789","x"]},{"id":"b","prompts":["y"]},{"id":"c","prompts":["z"]}]},
             "verifier":"demo-verifier","drafter":"demo-drafter"}
            """;

        Assert.True(Parser(limits).Parse(Bytes(json)).IsValid);
    }

    [Fact]
    public void Parse_Utf8ByteOrderMark_Ignored()
    {
        var bytes = new byte[] { 0xEF, 0xBB, 0xBF }.Concat(Encoding.UTF8.GetBytes(Minimal)).ToArray();

        Assert.True(Parser().Parse(bytes).IsValid);
    }

    [Fact]
    public void Parse_UnicodePrompt_KeptExactly()
    {
        var json = Minimal.Replace("drei", "ドライ 🎲 \\u00e9");

        var request = Parser().Parse(Bytes(json)).Value!;

        Assert.Equal("ドライ 🎲 é", request.Suite.Tasks[1].Prompts[0]);
    }

    [Fact]
    public void Parse_ManyErrors_CappedWithCount()
    {
        var prompts = string.Join(",", Enumerable.Repeat("\"\"", 120));
        var json = $$"""{"suite":{"name":"s","tasks":[{"id":"a","prompts":[{{prompts}}]}]},"verifier":"demo-verifier","drafter":"demo-drafter"}""";

        var errors = Parser().Parse(Bytes(json)).Errors;

        Assert.Equal(EvaluationRequestParser.MaxErrors + 1, errors.Count);
        Assert.Equal("suite.tasks[0].prompts[49]", errors[49].Field);
        Assert.Equal(new ValidationError("$", "70 more errors not shown"), errors[^1]);
    }

    [Fact]
    public void Parse_InvalidJson_NamesLineAndByte()
    {
        var error = Assert.Single(Parser().Parse(Bytes("{\n  \"suite\": ]")).Errors);

        Assert.Equal("$", error.Field);
        Assert.Equal("the body is not valid JSON at line 2, byte 12", error.Problem);
    }

    [Fact]
    public void Parse_UnknownFieldWithOddName_QuotedInPath()
    {
        var json = Minimal.TrimEnd().TrimEnd('}') + ",\"a.b\":1}";

        var error = Assert.Single(Parser().Parse(Bytes(json)).Errors);

        Assert.Equal("['a.b']", error.Field);
        Assert.StartsWith("unknown field", error.Problem);
    }

    [Fact]
    public void Parse_DuplicateTaskId_PointsAtFirstOccurrence()
    {
        var json = Minimal.Replace("\"id\":\"de\"", "\"id\":\"en\"");

        var error = Assert.Single(Parser().Parse(Bytes(json)).Errors);

        Assert.Equal(new ValidationError("suite.tasks[1].id", "duplicate task id 'en' (also suite.tasks[0].id)"), error);
    }

    [Fact]
    public void ParseSuite_TrainingPromptIsAlsoAnEvaluationPrompt_ErrorNamesBothPositionsNotTheText()
    {
        var result = Parser().ParseSuite(Bytes("""{"name":"s","tasks":[{"id":"sw","prompts":["Swali 1","Swali 2"],"trainingPrompts":["Swali 3"," Swali 2 "]}]}"""));

        var error = Assert.Single(result.Errors);
        Assert.Equal(new ValidationError("tasks[0].trainingPrompts[1]", "is also tasks[0].prompts[1]: training prompts must be disjoint from the evaluation prompts"), error);
        Assert.Null(result.Value);
    }

    [Fact]
    public void ParseSuite_ValidFile_Parsed()
    {
        var result = Parser().ParseSuite(Bytes("""{"name":"mgsm-small","tasks":[{"id":"sw","prompts":["Swali"]}]}"""));

        Assert.Equal("mgsm-small", result.Value!.Name);
        Assert.Equal("Swali", Assert.Single(Assert.Single(result.Value.Tasks).Prompts));
    }

    [Fact]
    public void ParseSuite_Problems_PathsRelativeToSuiteRoot()
    {
        var result = Parser().ParseSuite(Bytes("""{"name":"s","tasks":[{"id":"a","prompts":["p"]},{"id":"","prompts":[]}],"verifier":"x"}"""));

        Assert.Equal(["verifier"], result.Errors.Select(e => e.Field));
        result = Parser().ParseSuite(Bytes("""{"name":"s","tasks":[{"id":"a","prompts":["p"]},{"id":"","prompts":[]}]}"""));
        Assert.Equal(["tasks[1].id", "tasks[1].prompts"], result.Errors.Select(e => e.Field));
    }

    [Fact]
    public void ParseSuite_OverSizeLimit_RejectedBeforeParsing()
    {
        var limits = new EvaluationLimits { MaxBodyBytes = 16 };

        var error = Assert.Single(Parser(limits).ParseSuite(Bytes("""{"name":"s","tasks":[]}  """)).Errors);

        Assert.Equal(new ValidationError("$", "the suite file is 25 bytes; the limit is 16 bytes"), error);
    }
}
