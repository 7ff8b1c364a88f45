using Xunit.Abstractions;

namespace SpecFunctions.Cli.Tests;

/// <summary>The hostile suite corpus through the CLI's suite loading (<see cref="SuiteFile.Load"/>).</summary>
public sealed class HostileSuiteCorpusTests(ITestOutputHelper output)
{
    private static readonly TimeSpan Timeout = TimeSpan.FromSeconds(5);

    internal enum Outcome
    {
        /// <summary>Accepted and, for a case that must be accepted, the suite read as expected.</summary>
        Accepted,

        /// <summary>A <see cref="FormatException"/>: the one error the CLI prints as a message.</summary>
        Refused,

        /// <summary>Any other exception: the CLI would print "Unhandled exception" and a stack trace.</summary>
        Crash,

        /// <summary>Accepted, but the suite differs from what the file says.</summary>
        Misread,

        /// <summary>Still running after <see cref="Timeout"/>.</summary>
        Hang,
    }

    internal sealed record CorpusResult(HostileSuiteCase Case, Outcome Outcome, string Detail)
    {
        public bool WrongAcceptance => !Case.MustAccept && Outcome == Outcome.Accepted;

        public bool WrongRefusal => Case.MustAccept && Outcome == Outcome.Refused;

        /// <summary>Refused with one line that names the expected field (<c>suite</c>: the file itself; <c>$</c>: the document, with line and byte for syntax errors).</summary>
        public bool RefusedWell => Outcome == Outcome.Refused && !Case.MustAccept && !Detail.Contains('\n')
            && (Case.Field == "suite" ? Detail.StartsWith("suite file ", StringComparison.Ordinal) : Detail.Contains($" {Case.Field}: ", StringComparison.Ordinal));

        public bool Correct => Case.MustAccept ? Outcome == Outcome.Accepted : RefusedWell;
    }

    public static TheoryData<string> CaseNames => [.. HostileSuiteCorpus.Cases.Select(c => c.Name)];

    [Fact]
    public void Corpus_AtLeastSixtyCasesWithUniqueNames()
    {
        Assert.True(HostileSuiteCorpus.Cases.Count >= 60, $"{HostileSuiteCorpus.Cases.Count} cases");
        Assert.Equal(HostileSuiteCorpus.Cases.Count, HostileSuiteCorpus.Cases.Select(c => c.Name).Distinct().Count());
    }

    [Theory]
    [MemberData(nameof(CaseNames))]
    public void Load_HostileSuite_OneClearErrorNamingTheFieldOrAccepted(string name)
    {
        var result = Run(HostileSuiteCorpus.Cases.Single(c => c.Name == name));

        output.WriteLine($"{result.Outcome}: {result.Detail}");
        Assert.True(result.Correct, $"{name}: {result.Outcome}: {result.Detail}");
        Assert.DoesNotContain("   at ", result.Detail, StringComparison.Ordinal);
    }

    /// <summary>The whole corpus at once, with the counts the issue reports (cases, clean refusals, crashes, hangs, wrong acceptances).</summary>
    [Fact]
    public void Corpus_Summary_NoCrashHangOrWrongAcceptance()
    {
        var results = HostileSuiteCorpus.Cases.Select(Run).ToList();

        foreach (var r in results.Where(r => !r.Correct))
        {
            output.WriteLine($"WRONG [{r.Case.Finding}] {r.Case.Name}: {r.Outcome}: {r.Detail}");
        }

        var summary = Summarize(results);
        output.WriteLine(summary);
        Assert.True(results.All(r => r.Correct), summary);
    }

    internal static string Summarize(IReadOnlyList<CorpusResult> results) =>
        $"cases {results.Count} (must accept {results.Count(r => r.Case.MustAccept)}): "
        + $"clean refusals {results.Count(r => r.Outcome == Outcome.Refused && !r.Case.MustAccept)} "
        + $"(naming the field {results.Count(r => r.RefusedWell)}), "
        + $"crashes {results.Count(r => r.Outcome == Outcome.Crash)}, hangs {results.Count(r => r.Outcome == Outcome.Hang)}, "
        + $"wrong acceptances {results.Count(r => r.WrongAcceptance)}, wrong refusals {results.Count(r => r.WrongRefusal)}, misread {results.Count(r => r.Outcome == Outcome.Misread)}, "
        + $"correct {results.Count(r => r.Correct)}";

    internal static CorpusResult Run(HostileSuiteCase hostile)
    {
        var root = Directory.CreateTempSubdirectory("specfn-hostile-").FullName;
        var folder = Directory.CreateDirectory(Path.Combine(root, "suite")).FullName;
        try
        {
            var path = hostile.Arrange(folder);
            var load = Task.Factory.StartNew(() => SuiteFile.Load(path), CancellationToken.None, TaskCreationOptions.LongRunning, TaskScheduler.Default);
            if (!((IAsyncResult)load).AsyncWaitHandle.WaitOne(Timeout))
            {
                HostileSuiteCorpus.ReleaseFifos(folder);
                return new(hostile, Outcome.Hang, $"still running after {Timeout.TotalSeconds} s");
            }

            if (load.Exception?.InnerException is { } error)
            {
                return error is FormatException
                    ? new(hostile, Outcome.Refused, error.Message)
                    : new(hostile, Outcome.Crash, $"{error.GetType().Name}: {error.Message}");
            }

            var suite = load.Result;
            return hostile.Check is null || hostile.Check(suite)
                ? new(hostile, Outcome.Accepted, $"{suite.Tasks.Count} tasks")
                : new(hostile, Outcome.Misread, $"read wrongly: {string.Join(" | ", suite.Tasks.Select(t => $"{t.Id}: {string.Join(", ", t.Prompts)}"))}");
        }
        finally
        {
            Directory.Delete(root, recursive: true);
        }
    }
}
