using System.Globalization;
using System.Text;

namespace SpecFunctions.Core.Reporting;

/// <summary>
/// <c>tasks.csv</c>: one row per task with a header row, invariant culture, RFC 4180 quoting, UTF-8 without BOM.
/// Missing values are empty cells and NaN is <c>NaN</c> (both read as NaN by <c>pandas.read_csv</c>).
/// Per-position acceptance gets one column per draft position and kind: the conditional rate
/// (<c>acceptanceRateAtPosition1</c>…<c>γ</c>) and P(accepted length &gt; i) (<c>acceptedPastPosition1</c>…<c>γ</c>).
/// </summary>
public static class TasksCsvWriter
{
    public static string Write(EvaluationReport report)
    {
        ArgumentNullException.ThrowIfNull(report);
        var gamma = report.Suite.Gamma;
        // Every figure with an interval gets <name>CiLower and <name>CiUpper columns right after it.
        (string Name, Func<TaskReport, double?> Value, Func<TaskReport, IntervalReport?>? Ci)[] figures =
        [
            ("acceptanceRate", t => t.AcceptanceRate, t => t.AcceptanceRateCi),
            ("alpha", t => t.Alpha, t => t.AlphaCi),
            ("crossEntropy", t => t.CrossEntropy, t => t.CrossEntropyCi),
            ("kl", t => t.Kl, t => t.KlCi),
            ("meanAcceptedLength", t => t.MeanAcceptedLength, t => t.MeanAcceptedLengthCi),
            ("costRatio", t => t.CostRatio, null),
            ("analyticalSpeedup", t => t.AnalyticalSpeedup, t => t.AnalyticalSpeedupCi),
            ("expectedSpeedupPerPrefix", t => t.ExpectedSpeedupPerPrefix, t => t.ExpectedSpeedupPerPrefixCi),
            ("refinedSpeedup", t => t.RefinedSpeedup, t => t.RefinedSpeedupCi),
            ("measuredSpeedup", t => t.MeasuredSpeedup, t => t.MeasuredSpeedupCi),
            ("measuredSpeedupHalfWidth", t => t.MeasuredSpeedupHalfWidth, null),
            ("measuredSpeedupTooWide", t => t.MeasuredSpeedup is null ? null : t.MeasuredSpeedupTooWide ? 1 : 0, null),
            ("speedupBound", t => t.SpeedupBound, null),
            ("speedupBoundCrossEntropy", t => t.SpeedupBoundCrossEntropy, null),
            ("optimalGamma", t => t.OptimalGamma, null),
            ("optimalGammaSpeedup", t => t.OptimalGammaSpeedup, null),
        ];
        var header = new List<string> { "taskId", "status", "prompts", "steps", "draftedTokens", "acceptedTokens", "generatedTokens" };
        foreach (var (name, _, ci) in figures)
        {
            header.Add(name);
            if (ci is not null)
            {
                header.AddRange([name + "CiLower", name + "CiUpper"]);
            }
        }

        header.AddRange(Enumerable.Range(1, gamma).Select(i => $"acceptanceRateAtPosition{i}"));
        header.AddRange(Enumerable.Range(1, gamma).Select(i => $"acceptedPastPosition{i}"));

        var text = new StringBuilder();
        text.AppendJoin(',', header).Append('\n');
        foreach (var t in report.Tasks)
        {
            var cells = new List<string>
            {
                Quote(t.TaskId), Quote(t.Status.ToString().ToLowerInvariant()), Int(t.Prompts), Int(t.Steps), Int(t.DraftedTokens),
                Int(t.AcceptedTokens), Int(t.GeneratedTokens),
            };
            foreach (var (_, value, ci) in figures)
            {
                cells.Add(Num(value(t)));
                if (ci is not null)
                {
                    cells.AddRange([Num(ci(t)?.Lower), Num(ci(t)?.Upper)]);
                }
            }

            cells.AddRange(Enumerable.Range(0, gamma).Select(i => Num(i < t.AcceptanceRateByPosition.Length ? t.AcceptanceRateByPosition[i] : null)));
            cells.AddRange(Enumerable.Range(0, gamma).Select(i => Num(i < t.AcceptedPastPosition.Length ? t.AcceptedPastPosition[i] : null)));
            text.AppendJoin(',', cells).Append('\n');
        }

        return text.ToString();
    }

    public static async Task WriteAsync(EvaluationReport report, Stream output, CancellationToken cancellationToken = default)
    {
        var bytes = new UTF8Encoding(encoderShouldEmitUTF8Identifier: false).GetBytes(Write(report));
        await output.WriteAsync(bytes, cancellationToken).ConfigureAwait(false);
    }

    private static string Int(int value) => value.ToString(CultureInfo.InvariantCulture);

    // "R" round-trips the double exactly, so CSV and JSON agree to the last bit.
    private static string Num(double? value) => value switch
    {
        null => string.Empty,
        { } v when double.IsNaN(v) => "NaN",
        { } v when double.IsPositiveInfinity(v) => "inf",
        { } v when double.IsNegativeInfinity(v) => "-inf",
        { } v => v.ToString("R", CultureInfo.InvariantCulture),
    };

    private static string Quote(string value) =>
        value.AsSpan().IndexOfAny(",\"\r\n") >= 0 ? "\"" + value.Replace("\"", "\"\"", StringComparison.Ordinal) + "\"" : value;
}
