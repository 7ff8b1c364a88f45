using System.Text;
using SpecFunctions.Core.Evaluation;

namespace SpecFunctions.Core.Tests.Evaluation;

/// <summary>Hostile details of the shared parser: ids anchored at the true end, invalid UTF-16, nesting, BOM.</summary>
public class EvaluationRequestParserHostileTests
{
    private const string Minimal = """
        {"suite":{"name":"mgsm","tasks":[{"id":"en","prompts":["one","two"]},{"id":"de","prompts":["drei"]}]},
         "verifier":"demo-verifier","drafter":"demo-drafter"}
        """;

    private static EvaluationRequestParser Parser() => new(new EvaluationLimits(), name => name is "demo-verifier" or "demo-drafter", () => "generated");

    private static ReadOnlyMemory<byte> Bytes(string json) => Encoding.UTF8.GetBytes(json);

    [Theory]
    [InlineData("""{"runId":"run-1\n",""", "'run-1?'")]
    [InlineData("""{"runId":"run-1\r\n",""", "'run-1??'")]
    public void Parse_RunIdWithTrailingNewline_FieldError(string prefix, string quoted)
    {
        var error = Assert.Single(Parser().Parse(Bytes(prefix + Minimal.TrimStart()[1..])).Errors);

        Assert.Equal(new ValidationError("runId", $"{quoted} is not a valid id: ids are 1-64 lower-case letters, digits, '-' or '_', starting with a letter or digit"), error);
    }

    [Fact]
    public void Parse_TaskIdsEnAndEnNewline_SecondRefused()
    {
        var json = Minimal.Replace("""{"id":"de",""", """{"id":"en\n",""");

        var error = Assert.Single(Parser().Parse(Bytes(json)).Errors);

        Assert.Equal("suite.tasks[1].id", error.Field);
        Assert.StartsWith("'en?' is not a valid task id", error.Problem);
    }

    [Theory]
    [InlineData("\"\\ud800\"", "suite.tasks[0].prompts[0]")]
    [InlineData("\"a\\udc00\"", "suite.tasks[0].prompts[0]")]
    [InlineData("\"\\udc00\\ud800\"", "suite.tasks[0].prompts[0]")]
    public void Parse_LoneSurrogateInPrompt_FieldErrorNotException(string prompt, string field)
    {
        var json = Minimal.Replace("\"one\"", prompt);

        var error = Assert.Single(Parser().Parse(Bytes(json)).Errors);

        Assert.Equal(field, error.Field);
        Assert.Contains("lone surrogate", error.Problem);
    }

    [Theory]
    [InlineData("runId", """{"runId":"\ud800",""")]
    [InlineData("$", """{"\ud800":1,""")]
    public void Parse_LoneSurrogateInRunIdOrFieldName_FieldError(string field, string prefix)
    {
        var error = Assert.Single(Parser().Parse(Bytes(prefix + Minimal.TrimStart()[1..])).Errors);

        Assert.Equal(field, error.Field);
        Assert.Contains("lone surrogate", error.Problem);
    }

    [Fact]
    public void Parse_ValidSurrogatePair_Accepted()
    {
        var result = Parser().Parse(Bytes(Minimal.Replace("\"one\"", "\"\\ud83d\\ude00\"")));

        Assert.Equal("\U0001F600", result.Value!.Suite.Tasks[0].Prompts[0]);
    }

    // The root object and 15 arrays are 16 levels (the limit); one more array is too deep.
    private static string Nested(int arrays) => "{\"x\":" + new string('[', arrays) + new string(']', arrays) + "}";

    [Fact]
    public void Parse_SixteenLevels_ParsedAsJson()
    {
        var error = Assert.Single(Parser().Parse(Bytes(Nested(15))).Errors);

        Assert.Equal("x", error.Field);
    }

    [Fact]
    public void Parse_SeventeenLevels_DepthErrorWithPositionNotSyntaxError()
    {
        var error = Assert.Single(Parser().Parse(Bytes(Nested(16))).Errors);

        Assert.Equal(new ValidationError("$", "the body nests objects and arrays more than 16 levels deep at line 1, byte 21"), error);
    }

    [Fact]
    public void Parse_Utf8Bom_Accepted()
    {
        var result = Parser().Parse(new byte[] { 0xEF, 0xBB, 0xBF }.Concat(Encoding.UTF8.GetBytes(Minimal)).ToArray());

        Assert.True(result.IsValid, string.Join("; ", result.Errors));
    }

    [Fact]
    public void Parse_InvalidUtf8_NamesLineAndByte()
    {
        var bytes = Encoding.UTF8.GetBytes("{\n \"suite\": \"x\"}").ToList();
        bytes.Insert(4, 0xFF);

        var error = Assert.Single(Parser().Parse(bytes.ToArray()).Errors);

        Assert.Equal(new ValidationError("$", "the body is not valid UTF-8 at line 2, byte 3"), error);
    }

    [Fact]
    public void Parse_PromptsFileInHttpBody_UnknownField()
    {
        var json = Minimal.Replace("\"prompts\":[\"drei\"]", "\"promptsFile\":\"de.txt\"");

        var error = Assert.Single(Parser().Parse(Bytes(json)).Errors);

        Assert.Equal(new ValidationError("suite.tasks[1].promptsFile", "unknown field (allowed here: id, prompts, trainingPrompts, gamma)"), error);
    }

    [Fact]
    public void Parse_SuiteBySource_KeepsTheBlobAndNoTasks()
    {
        var result = Parser().Parse(Bytes("""{"suite":{"name":"audit","source":{"blob":"suites/audit.jsonl"}},"verifier":"demo-verifier","drafter":"demo-drafter"}"""));

        Assert.True(result.IsValid, string.Join("\n", result.Errors));
        Assert.Equal("suites/audit.jsonl", result.Value!.Suite.Source!.Blob);
        Assert.Equal(SuiteSourceFormat.JsonLines, result.Value.Suite.Source.Format);
        Assert.Empty(result.Value.Suite.Tasks);
    }

    [Theory]
    [InlineData("""{"name":"a","source":{"blob":"suites/a.tsv"},"tasks":[]}""", "suite", "has both tasks and source; give one of them")]
    [InlineData("""{"name":"a","source":{"blob":"runs/r/manifest.jsonl"}}""", "suite.source.blob", "'runs/r/manifest.jsonl' must be a blob under 'suites/' in the app's store, e.g. 'suites/mgsm.jsonl'")]
    [InlineData("""{"name":"a","source":{"blob":"suites/a.csv"}}""", "suite.source.blob", "'suites/a.csv' must end in .jsonl (JSON lines) or .tsv (tab-separated values)")]
    [InlineData("""{"name":"a","source":{"path":"suites/a.tsv"}}""", "suite.source.path", "unknown field (allowed here: blob)")]
    [InlineData("""{"name":"a","source":{}}""", "suite.source.blob", "is required")]
    public void Parse_BadSource_NamesTheField(string suite, string field, string problem)
    {
        var result = Parser().Parse(Bytes($$"""{"suite":{{suite}},"verifier":"demo-verifier","drafter":"demo-drafter"}"""));

        Assert.False(result.IsValid);
        Assert.Contains(new ValidationError(field, problem), result.Errors);
    }
}
