using System.Globalization;
using System.Xml.Linq;
using AngleSharp.Html.Parser;
using SpecFunctions.Core.Mitigation;
using SpecFunctions.Core.Reporting;
using SpecFunctions.Core.Storage;

namespace SpecFunctions.Storage.Tests;

public sealed class ReportWriterTests
{
    private static readonly XNamespace Svg = "http://www.w3.org/2000/svg";
    private static readonly XNamespace Xhtml = "http://www.w3.org/1999/xhtml";

    /// <summary>A hand-made report: values chosen so that a swapped or mis-scaled field shows.</summary>
    internal static EvaluationReport SampleReport(bool withMitigation = true) => new()
    {
        RunId = "mgsm-2026-11-28",
        GeneratedAt = new DateTimeOffset(2026, 11, 28, 15, 0, 0, TimeSpan.Zero),
        Drafter = new ModelIdentity { Name = "demo-drafter", Sha256 = ContentKey.Sha256Hex("d") },
        Verifier = new ModelIdentity { Name = "demo-verifier", Sha256 = ContentKey.Sha256Hex("v") },
        Suite = new SuiteReport
        {
            Gamma = 4,
            CostRatio = 0.12,
            VerificationCostRatio = 1.21,
            Fairness = new FairnessReport
            {
                Unfairness = 0.0425, MeanCrossEntropy = 2.1, SpeedupVariance = 0.061, SpeedupRange = 0.74,
                MinMaxSpeedupRatio = 0.58, MeanSpeedup = 1.45, WorstTask = "sw",
            },
        },
        Tasks =
        [
            Task("en", 0.82, 1.9, 2.31, 1.77, [0.86, 0.81, 0.78, 0.74]),
            Task("de", 0.71, 2.0, 1.93, 1.52, [0.77, 0.70, 0.66, 0.61]),
            Task("sw", 0.44, 2.4, 1.22, 0.98, [0.52, 0.43, 0.38, 0.33]),
        ],
        Mitigation = withMitigation
            ? new MitigationReport
            {
                Strategy = "s-cdf", UnfairnessBefore = 0.0425, UnfairnessAfter = 0.031, MeanSpeedupBefore = 1.42, MeanSpeedupAfter = 1.51,
                Promoted = true,
                Tasks =
                [
                    new MitigationTaskReport { TaskId = "en", AlphaBefore = 0.82, AlphaAfter = 0.81, CrossEntropyBefore = 1.9, CrossEntropyAfter = 1.92, SpeedupBefore = 1.77, SpeedupAfter = 1.75, TrainingPrompts = 40, EvaluationPrompts = 20 },
                    new MitigationTaskReport { TaskId = "de", AlphaBefore = 0.71, AlphaAfter = 0.74, CrossEntropyBefore = 2.0, CrossEntropyAfter = 1.96, SpeedupBefore = 1.52, SpeedupAfter = 1.58, TrainingPrompts = 30, EvaluationPrompts = 20 },
                    new MitigationTaskReport { TaskId = "sw", AlphaBefore = 0.44, AlphaAfter = 0.55, CrossEntropyBefore = 2.4, CrossEntropyAfter = 2.2, SpeedupBefore = 0.98, SpeedupAfter = 1.19, TrainingPrompts = 25, EvaluationPrompts = 10,
                        SpeedupRatio = 1.214, SpeedupRatioCi = new IntervalReport { Lower = 1.1, Upper = 1.3 }, NoWorseOff = true },
                ],
                Rule = new PromotionReport
                {
                    Target = PromotionCondition.UnfairnessFell, TargetChange = -0.0115, TargetChangeCi = new IntervalReport { Lower = -0.02, Upper = -0.004 },
                    TargetShown = true, SpeedupMargin = 0.05, Resamples = 1000, DecidedBy = PromotionCondition.NoTaskWorseOff,
                    Reason = "kept the current drafter: en's <b>measured</b> after/before is low",
                },
            }
            : null,
        Decision = new DecisionReport
        {
            Action = "promote",
            Reason = "U fell by 27% <script>alert(1)</script> & no task got slower than 0.95×",
            Inputs = new Dictionary<string, double> { ["unfairnessDrop"] = 0.27, ["minSpeedupRatio"] = 0.95 },
        },
    };

    private static TaskReport Task(string id, double alpha, double ce, double analytical, double measured, double[] positions) => new()
    {
        TaskId = id,
        Status = TaskState.Committed,
        Prompts = 25,
        Steps = 900,
        DraftedTokens = 3600,
        AcceptedTokens = (int)(3600 * alpha),
        GeneratedTokens = 3000,
        AcceptanceRate = alpha - 0.01,
        Alpha = alpha,
        AlphaCi = new IntervalReport { Lower = alpha - 0.03, Upper = alpha + 0.025 },
        CrossEntropy = ce,
        Kl = ce / 4,
        MeanAcceptedLength = 1 + 3 * alpha,
        AnalyticalSpeedup = analytical,
        ExpectedSpeedupPerPrefix = analytical + 0.04,
        RefinedSpeedup = analytical * 0.8,
        MeasuredSpeedup = measured,
        MeasuredSpeedupCi = new IntervalReport { Lower = measured - 0.1, Upper = measured + 0.12 },
        SpeedupBound = analytical * 0.6,
        SpeedupBoundCrossEntropy = analytical * 0.3,
        AcceptanceRateByPosition = positions,
        AcceptedPastPosition = [.. positions.Select((p, i) => positions.Take(i + 1).Aggregate(1.0, (a, b) => a * b))],
    };

    private static XElement Chart(XDocument html, string id) =>
        html.Descendants(Svg + "svg").Single(e => (string?)e.Attribute("id") == id);

    private static List<XElement> Bars(XElement chart, string series) =>
        [.. chart.Descendants(Svg + "rect").Where(r => ((string?)r.Attribute("class"))?.Split(' ').Contains("bar") == true && (string?)r.Attribute("data-series") == series)];

    private static double Value(XElement e, string attribute = "data-value") => double.Parse((string)e.Attribute(attribute)!, CultureInfo.InvariantCulture);

    [Fact]
    public void Write_Report_IsWellFormedXhtmlWithoutExternalResources()
    {
        var text = HtmlReportWriter.Write(SampleReport());

        Assert.StartsWith("<!DOCTYPE html>\n<html", text, StringComparison.Ordinal);
        var html = XDocument.Parse(text);
        Assert.Equal(Xhtml + "html", html.Root!.Name);
        Assert.DoesNotContain(html.Descendants(), e => e.Name.LocalName is "script" or "link" or "img" or "iframe");
        Assert.DoesNotContain(html.Descendants().Attributes(), a => a.Name.LocalName is "src" or "href");
        Assert.DoesNotContain("http://", text.Replace("http://www.w3.org/", string.Empty, StringComparison.Ordinal), StringComparison.Ordinal);
        Assert.DoesNotContain("https://", text, StringComparison.Ordinal);
        Assert.DoesNotContain("url(", text, StringComparison.Ordinal);
    }

    [Fact]
    public void AlphaChart_ThreeTasks_OneBarPerTaskWithAlphaAndCi()
    {
        var report = SampleReport();
        var chart = Chart(XDocument.Parse(HtmlReportWriter.Write(report)), "chart-alpha");

        var bars = Bars(chart, "alpha");
        Assert.Equal(report.Tasks.Select(t => t.TaskId), bars.Select(b => (string)b.Attribute("data-task")!));
        Assert.Equal(report.Tasks.Select(t => t.Alpha), bars.Select(b => Value(b)));

        // Bar heights are proportional to the values (one y scale per chart, 0..1 for α).
        var ratios = bars.Select(b => double.Parse((string)b.Attribute("height")!, CultureInfo.InvariantCulture) / Value(b)).ToList();
        Assert.All(ratios, r => Assert.Equal(ratios[0], r, 0.5));

        var whiskers = chart.Descendants(Svg + "line").Where(l => (string?)l.Attribute("class") == "ci ci-alpha").ToList();
        Assert.Equal(report.Tasks.Select(t => t.AlphaCi!.Lower), whiskers.Select(w => Value(w, "data-lower")));
        Assert.Equal(report.Tasks.Select(t => t.AlphaCi!.Upper), whiskers.Select(w => Value(w, "data-upper")));
    }

    [Fact]
    public void SpeedupChart_ThreeTasks_MeasuredAnalyticalBarsAndBoundMarkers()
    {
        var report = SampleReport();
        var chart = Chart(XDocument.Parse(HtmlReportWriter.Write(report)), "chart-speedup");

        Assert.Equal(report.Tasks.Select(t => t.MeasuredSpeedup!.Value), Bars(chart, "measured").Select(b => Value(b)));
        Assert.Equal(report.Tasks.Select(t => t.AnalyticalSpeedup), Bars(chart, "analytical").Select(b => Value(b)));
        Assert.Equal(report.Tasks.Select(t => t.RefinedSpeedup), Bars(chart, "refined").Select(b => Value(b)));
        var bounds = chart.Descendants(Svg + "line").Where(l => ((string?)l.Attribute("class"))?.StartsWith("bound", StringComparison.Ordinal) == true).ToList();
        Assert.Equal(report.Tasks.Select(t => t.TaskId), bounds.Select(b => (string)b.Attribute("data-task")!));
        Assert.Equal(report.Tasks.Select(t => t.SpeedupBound), bounds.Select(b => Value(b)));

        // The bound tick sits below the analytical bar's top (bound < S_T here), i.e. at a larger y.
        var analyticalTop = Bars(chart, "analytical").Select(b => double.Parse((string)b.Attribute("y")!, CultureInfo.InvariantCulture));
        var boundY = bounds.Select(b => double.Parse((string)b.Attribute("y1")!, CultureInfo.InvariantCulture));
        Assert.All(analyticalTop.Zip(boundY), p => Assert.True(p.Second > p.First));
    }

    [Fact]
    public void PositionChart_GammaFour_FourBarsPerTaskWithPerPositionAcceptance()
    {
        var report = SampleReport();
        var chart = Chart(XDocument.Parse(HtmlReportWriter.Write(report)), "chart-position");

        for (var position = 1; position <= 4; position++)
        {
            var bars = Bars(chart, $"position-{position}");
            Assert.Equal(report.Tasks.Select(t => t.TaskId), bars.Select(b => (string)b.Attribute("data-task")!));
            Assert.Equal(report.Tasks.Select(t => t.AcceptanceRateByPosition[position - 1]), bars.Select(b => Value(b)));
            Assert.All(bars, b => Assert.Equal(position, (int)b.Attribute("data-position")!));
        }

        var past = Chart(XDocument.Parse(HtmlReportWriter.Write(report)), "chart-accepted-past");
        for (var position = 1; position <= 4; position++)
        {
            Assert.Equal(report.Tasks.Select(t => t.AcceptedPastPosition[position - 1]), Bars(past, $"past-{position}").Select(b => Value(b)));
        }
    }

    [Fact]
    public void MitigationCharts_WithMitigation_ShowUnfairnessAndPerTaskSpeedupsBeforeAndAfter()
    {
        var report = SampleReport();
        var html = XDocument.Parse(HtmlReportWriter.Write(report));

        var u = Bars(Chart(html, "chart-mitigation-unfairness"), "unfairness");
        Assert.Equal(["before", "after"], u.Select(b => (string)b.Attribute("data-phase")!));
        Assert.Equal([0.0425, 0.031], u.Select(b => Value(b)));
        var speedups = Chart(html, "chart-mitigation-speedup");
        Assert.Equal(report.Mitigation!.Tasks.Select(t => t.SpeedupBefore), Bars(speedups, "before").Select(b => Value(b)));
        Assert.Equal(report.Mitigation.Tasks.Select(t => t.SpeedupAfter), Bars(speedups, "after").Select(b => Value(b)));

        var without = XDocument.Parse(HtmlReportWriter.Write(SampleReport(withMitigation: false)));
        Assert.DoesNotContain(without.Descendants(Svg + "svg"), e => ((string?)e.Attribute("id"))!.StartsWith("chart-mitigation", StringComparison.Ordinal));
    }

    [Fact]
    public void MitigationTable_WithMitigation_StatesTrainingAndEvaluationPromptsAndOverlapPerTask()
    {
        var report = SampleReport();
        var document = new HtmlParser().ParseDocument(HtmlReportWriter.Write(report));

        var rows = document.QuerySelectorAll("#mitigation-table tbody tr");
        Assert.Equal(["en", "de", "sw"], rows.Select(r => r.GetAttribute("data-task")));
        string[] Field(string name) => [.. rows.Select(r => r.QuerySelector($"td[data-field='{name}']")!.TextContent)];
        Assert.Equal(["40", "30", "25"], Field("training-prompts"));
        Assert.Equal(["20", "20", "10"], Field("evaluation-prompts"));
        Assert.Equal(["0", "0", "0"], Field("prompt-overlap"));
        // The paired after/before with its interval; a task not shown to stay above 1 − margin is marked (older rows: "–").
        Assert.Equal(["–", "–", "1.214 [1.100, 1.300]"], Field("speedup-ratio"));
        Assert.Equal(["false", "false", "true"], rows.Select(r => r.QuerySelector("td[data-field='speedup-ratio']")!.GetAttribute("data-no-worse-off")));
        var rule = document.QuerySelector("#mitigation-table + p.rule")!;
        Assert.Equal("no-task-worse-off", rule.GetAttribute("data-decided-by"));
        Assert.Contains("margin 0.05): kept the current drafter: en's <b>measured</b> after/before is low.", rule.TextContent, StringComparison.Ordinal);
        var columns = document.QuerySelectorAll("#mitigation-table thead th").Length;
        Assert.Equal(11, columns);
        Assert.All(rows, r => Assert.Equal(columns, r.Children.Length));

        var json = System.Text.Json.JsonDocument.Parse(report.ToJson()).RootElement.GetProperty("mitigation").GetProperty("tasks");
        Assert.Equal([(40, 20, 0), (30, 20, 0), (25, 10, 0)], json.EnumerateArray().Select(t =>
            (t.GetProperty("trainingPrompts").GetInt32(), t.GetProperty("evaluationPrompts").GetInt32(), t.GetProperty("promptOverlap").GetInt32())));
    }

    [Fact]
    public void Html5Parser_Report_SeesSameBarsTableRowsAndEscapedText()
    {
        var report = SampleReport();
        var document = new HtmlParser().ParseDocument(HtmlReportWriter.Write(report));

        Assert.Equal(3, document.QuerySelectorAll("svg#chart-alpha rect.bar").Length);
        Assert.Equal(6, document.QuerySelectorAll("svg#chart-mitigation-speedup rect.bar").Length);
        Assert.Equal(12, document.QuerySelectorAll("svg#chart-position rect.bar").Length);
        Assert.Equal(["en", "de", "sw"], document.QuerySelectorAll("#tasks-table tbody tr").Select(r => r.GetAttribute("data-task")));
        Assert.Equal("sw", document.QuerySelector("#worst-task")!.TextContent);
        Assert.Equal("0.0425", document.QuerySelector("#unfairness")!.GetAttribute("data-value"));
        Assert.Empty(document.QuerySelectorAll("script"));
        Assert.Contains("<script>alert(1)</script> & no task", document.QuerySelector("#decision p")!.TextContent, StringComparison.Ordinal);
        // Every table cell is closed: rows have as many cells as the header.
        var columns = document.QuerySelectorAll("#tasks-table thead th").Length;
        Assert.All(document.QuerySelectorAll("#tasks-table tbody tr"), r => Assert.Equal(columns, r.Children.Length));
    }

    [Fact]
    public void Csv_Report_HeaderAndInvariantValuesRoundTrip()
    {
        var report = SampleReport();
        var lines = TasksCsvWriter.Write(report).TrimEnd('\n').Split('\n');

        var header = lines[0].Split(',');
        Assert.Equal(1 + report.Tasks.Count, lines.Length);
        Assert.Equal("taskId", header[0]);
        Assert.Equal("acceptanceRateAtPosition1", header[^8]);
        Assert.Equal("acceptedPastPosition4", header[^1]);
        for (var i = 0; i < report.Tasks.Count; i++)
        {
            var cells = lines[i + 1].Split(',');
            Assert.Equal(header.Length, cells.Length);
            var task = report.Tasks[i];
            double Cell(string name) => double.Parse(cells[Array.IndexOf(header, name)], CultureInfo.InvariantCulture);
            Assert.Equal(task.TaskId, cells[0]);
            Assert.Equal("committed", cells[1]);
            Assert.Equal(task.Alpha, Cell("alpha"));
            Assert.Equal(task.MeasuredSpeedupCi!.Upper, Cell("measuredSpeedupCiUpper"));
            Assert.Equal(task.SpeedupBound, Cell("speedupBound"));
            Assert.Equal(task.AcceptanceRateByPosition[2], Cell("acceptanceRateAtPosition3"));
            Assert.Equal(task.AcceptedPastPosition[2], Cell("acceptedPastPosition3"));
            Assert.Equal(string.Empty, cells[Array.IndexOf(header, "costRatio")]);
        }
    }

    [Fact]
    public void Json_Report_RoundTripsIncludingNaNAndOptionalSections()
    {
        var report = SampleReport() with { Tasks = [SampleReport().Tasks[0] with { Kl = double.NaN }] };

        var json = report.ToJson();
        var back = EvaluationReport.FromJson(json);

        Assert.Contains("\"kl\": \"NaN\"", json, StringComparison.Ordinal);
        Assert.Contains("\"status\": \"committed\"", json, StringComparison.Ordinal);
        Assert.True(double.IsNaN(back.Tasks[0].Kl));
        Assert.Equal(report.Mitigation!.UnfairnessAfter, back.Mitigation!.UnfairnessAfter);
        Assert.Equal(0.27, back.Decision!.Inputs["unfairnessDrop"]);
        Assert.Equal(report.Suite, back.Suite);
    }
}
