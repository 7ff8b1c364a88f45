using System.Text;
using SpecFunctions.Core.Evaluation;
using SpecFunctions.Core.Storage;

namespace SpecFunctions.Storage.Tests;

/// <summary>Suites by reference read from the local folder and from Azurite: the referenced-suite limits, line-exact errors.</summary>
[Collection(AzuriteCollection.Name)]
public sealed class SuiteSourceTests(AzuriteFixture azurite) : IDisposable
{
    private readonly TestRuns _runs = new(azurite);

    public void Dispose() => _runs.Dispose();

    private static async Task UploadAsync(IObjectStore objects, string path, Action<StreamWriter> write)
    {
        await using var staged = await objects.OpenStagedWriteAsync(path);
        using (var writer = new StreamWriter(staged.Stream, new UTF8Encoding(false), leaveOpen: true))
        {
            write(writer);
        }

        await staged.CommitAsync();
    }

    private static string Prompt(int task, int prompt) => $"Task {task}, question {prompt}: what is {task} plus {prompt}?";

    [Theory]
    [InlineData(StoreKind.Local)]
    [InlineData(StoreKind.Blob)]
    public async Task ReadSuiteSource_HundredTasksOfThousandPrompts_IsAcceptedWithEveryPromptInOrder(StoreKind kind)
    {
        var objects = _runs.CreateObjects(kind);
        var store = new TraceStore(objects);
        await UploadAsync(objects, "suites/audit/large.jsonl", writer =>
        {
            // Tasks interleaved line by line, training prompts beside the prompts they must not repeat.
            for (var p = 0; p < 1000; p++)
            {
                for (var t = 0; t < 100; t++)
                {
                    writer.Write($"{{\"task\":\"t{t:000}\",\"prompt\":\"{Prompt(t, p)}\"}}\n");
                    if (p < 3)
                    {
                        writer.Write($"{{\"task\":\"t{t:000}\",\"trainingPrompt\":\"train {t} {p}\"}}\n");
                    }
                }
            }
        });

        var suite = await store.ReadSuiteSourceAsync("large", new SuiteSource { Blob = "suites/audit/large.jsonl" }, new EvaluationLimits());

        Assert.Equal("large", suite.Name);
        Assert.Equal("suites/audit/large.jsonl", suite.Source!.Blob);
        Assert.Equal(100, suite.Tasks.Count);
        Assert.Equal("t000", suite.Tasks[0].Id);
        Assert.Equal("t099", suite.Tasks[99].Id);
        Assert.All(suite.Tasks, t => Assert.Equal(1000, t.Prompts.Count));
        Assert.Equal(Prompt(57, 999), suite.Tasks[57].Prompts[999]);
        Assert.Equal(["train 42 0", "train 42 1", "train 42 2"], suite.Tasks[42].TrainingPrompts!);
    }

    [Theory]
    [InlineData(StoreKind.Local)]
    [InlineData(StoreKind.Blob)]
    public async Task ReadSuiteSource_OneBadLineAmongThousands_NamesBlobAndLine(StoreKind kind)
    {
        var objects = _runs.CreateObjects(kind);
        var store = new TraceStore(objects);
        await UploadAsync(objects, "suites/bad.tsv", writer =>
        {
            for (var i = 1; i <= 5000; i++)
            {
                // Line 4321 has an upper-case task id.
                writer.Write(i == 4321 ? "Task-X\tprompt\tsome text\n" : $"t{i % 7}\tprompt\tquestion {i}\n");
            }
        });

        var ex = await Assert.ThrowsAsync<SuiteSourceException>(() =>
            store.ReadSuiteSourceAsync("bad", new SuiteSource { Blob = "suites/bad.tsv" }, new EvaluationLimits()));

        Assert.Equal(("suites/bad.tsv", 4321L), (ex.Blob, ex.Line!.Value));
        Assert.StartsWith("referenced suite 'suites/bad.tsv' line 4321: task 'Task-X' is not a valid task id", ex.Message);
    }

    [Theory]
    [InlineData(StoreKind.Local)]
    [InlineData(StoreKind.Blob)]
    public async Task ReadSuiteSource_MissingBlob_SaysItIsMissingAndWhere(StoreKind kind)
    {
        var objects = _runs.CreateObjects(kind);
        var store = new TraceStore(objects);

        var ex = await Assert.ThrowsAsync<SuiteSourceException>(() =>
            store.ReadSuiteSourceAsync("gone", new SuiteSource { Blob = "suites/gone.jsonl" }, new EvaluationLimits()));

        Assert.Null(ex.Line);
        Assert.Equal($"referenced suite 'suites/gone.jsonl': no such blob in {objects.Location}; upload it first", ex.Message);
    }

    [Theory]
    [InlineData(StoreKind.Local)]
    [InlineData(StoreKind.Blob)]
    public async Task ReadSuiteSource_LargerThanTheByteLimit_StopsWithTheSetting(StoreKind kind)
    {
        var objects = _runs.CreateObjects(kind);
        var store = new TraceStore(objects);
        await UploadAsync(objects, "suites/big.tsv", writer =>
        {
            for (var i = 0; i < 20_000; i++)
            {
                writer.Write($"t1\tprompt\tquestion number {i}\n");
            }
        });

        var ex = await Assert.ThrowsAsync<SuiteSourceException>(() =>
            store.ReadSuiteSourceAsync("big", new SuiteSource { Blob = "suites/big.tsv" }, new EvaluationLimits { MaxReferencedBytes = 100_000, MaxReferencedPromptsPerTask = 100_000 }));

        Assert.Equal("referenced suite 'suites/big.tsv': is larger than 100000 bytes (Evaluation:Limits:MaxReferencedBytes)", ex.Message);
    }
}
