using System.Text;
using SpecFunctions.Core.Evaluation;

namespace SpecFunctions.Core.Tests.Evaluation;

public class SuiteSourceReaderTests
{
    private static Task<IReadOnlyList<SuiteTask>> ReadAsync(string text, SuiteSourceFormat format, EvaluationLimits? limits = null) =>
        SuiteSourceReader.ReadTasksAsync(new MemoryStream(Encoding.UTF8.GetBytes(text)), "suites/s", format, limits ?? new EvaluationLimits());

    [Fact]
    public async Task ReadTasks_JsonLines_TasksInFirstAppearanceOrderWithTrainingPrompts()
    {
        var tasks = await ReadAsync(
            "\uFEFF{\"task\":\"sw\",\"prompt\":\"moja\"}\r\n\n{\"task\":\"en\",\"prompt\":\"one\\ttab\"}\n{\"task\":\"sw\",\"trainingPrompt\":\"mbili\"}\n{\"task\":\"sw\",\"prompt\":\"tatu\"}",
            SuiteSourceFormat.JsonLines);

        Assert.Equal(["sw", "en"], tasks.Select(t => t.Id));
        Assert.Equal(["moja", "tatu"], tasks[0].Prompts);
        Assert.Equal(["mbili"], tasks[0].TrainingPrompts!);
        Assert.Equal(["one\ttab"], tasks[1].Prompts);
        Assert.Null(tasks[1].TrainingPrompts);
    }

    [Fact]
    public async Task ReadTasks_Tsv_KindColumnSplitsPromptsAndTraining()
    {
        var tasks = await ReadAsync("en\tprompt\tone\nen\ttraining\ttwo\nde\tprompt\tdrei\n", SuiteSourceFormat.Tsv);

        Assert.Equal(["en", "de"], tasks.Select(t => t.Id));
        Assert.Equal(["one"], tasks[0].Prompts);
        Assert.Equal(["two"], tasks[0].TrainingPrompts!);
    }

    [Theory]
    [InlineData("{\"task\":\"en\",\"prompt\":\"a\"}\n\n{\"task\":\"en\"}", 3, "needs 'prompt' or 'trainingPrompt'")]
    [InlineData("{\"task\":\"en\",\"prompt\":\"a\"}\nnot json", 2, "is not valid JSON at byte ")]
    [InlineData("{\"task\":\"en\",\"prompt\":\"a\",\"extra\":\"b\"}", 1, "unknown field 'extra'")]
    [InlineData("{\"task\":\"en\",\"prompt\":\"a\",\"prompt\":\"b\"}", 1, "field 'prompt' appears more than once")]
    [InlineData("{\"task\":\"en\",\"prompt\":7}", 1, "field 'prompt' must be a string")]
    [InlineData("{\"task\":\"en\",\"prompt\":\"  \"}", 1, "the prompt must not be empty or whitespace")]
    [InlineData("[1]", 1, "must be a JSON object")]
    [InlineData("{\"task\":\"en\",\"prompt\":\"a\",\"trainingPrompt\":\"b\"}", 1, "has both 'prompt' and 'trainingPrompt'")]
    [InlineData("{\"task\":\"en\",\"prompt\":\"a\"}\n{\"task\":\"en\",\"trainingPrompt\":\" a \"}", 2, "is the same text as line 1 of task 'en'")]
    [InlineData("{\"task\":\"en\",\"trainingPrompt\":\"a\"}", 1, "task 'en' has training prompts but no prompts to evaluate")]
    [InlineData("{\"task\":\"../x\",\"prompt\":\"a\"}", 1, "task '../x' is not a valid task id")]
    public async Task ReadTasks_BadJsonLine_NamesTheLine(string text, long line, string problem)
    {
        var ex = await Assert.ThrowsAsync<SuiteSourceException>(() => ReadAsync(text, SuiteSourceFormat.JsonLines));

        Assert.Equal(line, ex.Line);
        Assert.Contains($"referenced suite 'suites/s' line {line}: {problem}", ex.Message, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("en\tprompt\ta\nen\tprompt\n", 2, "has 2 tab-separated fields; expected 3")]
    [InlineData("en\tprompt\ta\nen\teval\tb\n", 2, "kind 'eval' is neither 'prompt' nor 'training'")]
    [InlineData("en\tprompt\ta\tb\n", 1, "has 4 tab-separated fields")]
    public async Task ReadTasks_BadTsvLine_NamesTheLine(string text, long line, string problem)
    {
        var ex = await Assert.ThrowsAsync<SuiteSourceException>(() => ReadAsync(text, SuiteSourceFormat.Tsv));

        Assert.Contains($"line {line}: {problem}", ex.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task ReadTasks_InvalidUtf8_NamesTheLine()
    {
        var bytes = Encoding.UTF8.GetBytes("en\tprompt\ta\nen\tprompt\tb").Concat(new byte[] { 0xC3, 0x28, (byte)'\n' }).ToArray();

        var ex = await Assert.ThrowsAsync<SuiteSourceException>(() =>
            SuiteSourceReader.ReadTasksAsync(new MemoryStream(bytes), "suites/s.tsv", SuiteSourceFormat.Tsv, new EvaluationLimits()));

        Assert.Equal("referenced suite 'suites/s.tsv' line 2: is not valid UTF-8; save the suite as UTF-8", ex.Message);
    }

    [Fact]
    public async Task ReadTasks_PastTheTaskAndPromptLimits_NamesTheSettingAndLine()
    {
        var limits = new EvaluationLimits { MaxReferencedTasks = 2, MaxReferencedPromptsPerTask = 2, MaxPromptChars = 5 };

        var tasks = await Assert.ThrowsAsync<SuiteSourceException>(() => ReadAsync("a\tprompt\tx\nb\tprompt\tx\na\tprompt\ty\nc\tprompt\tx\n", SuiteSourceFormat.Tsv, limits));
        var prompts = await Assert.ThrowsAsync<SuiteSourceException>(() => ReadAsync("a\tprompt\tx\na\tprompt\ty\na\ttraining\tz\na\tprompt\tw\n", SuiteSourceFormat.Tsv, limits));
        var chars = await Assert.ThrowsAsync<SuiteSourceException>(() => ReadAsync("a\tprompt\tsix ch\n", SuiteSourceFormat.Tsv, limits));

        Assert.Equal("referenced suite 'suites/s' line 4: task 'c' is task 3; referenced suites allow at most 2 tasks (Evaluation:Limits:MaxReferencedTasks)", tasks.Message);
        Assert.Equal("referenced suite 'suites/s' line 4: task 'a' has more than 2 prompts (Evaluation:Limits:MaxReferencedPromptsPerTask)", prompts.Message);
        Assert.Equal("referenced suite 'suites/s' line 1: the prompt is 6 characters long; the limit is 5", chars.Message);
    }

    [Fact]
    public async Task ReadTasks_OnlyBlankLines_IsRefused()
    {
        var ex = await Assert.ThrowsAsync<SuiteSourceException>(() => ReadAsync("\n  \n", SuiteSourceFormat.Tsv));

        Assert.Equal("referenced suite 'suites/s': has no prompts (no non-blank lines)", ex.Message);
    }

    [Theory]
    [InlineData("suites/mgsm.jsonl", null)]
    [InlineData("suites/a/b.tsv", null)]
    [InlineData("runs/x/manifest.jsonl", "must be a blob under 'suites/'")]
    [InlineData("suites/../runs/x.jsonl", "must be a '/'-separated path without empty, '.' or '..' segments")]
    [InlineData("suites//x.jsonl", "must be a '/'-separated path")]
    [InlineData("suites/x.csv", "must end in .jsonl (JSON lines) or .tsv")]
    [InlineData("suites/", "must be a blob under 'suites/'")]
    public void PathProblem_OnlyBlobsUnderSuites(string blob, string? problem)
    {
        var found = SuiteSource.PathProblem(blob);
        if (problem is null)
        {
            Assert.Null(found);
        }
        else
        {
            Assert.StartsWith(problem, found);
        }
    }
}
