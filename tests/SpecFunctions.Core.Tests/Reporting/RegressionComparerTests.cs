using SpecFunctions.Core.Reporting;
using static SpecFunctions.Core.Tests.Reporting.TestReports;

namespace SpecFunctions.Core.Tests.Reporting;

public class RegressionComparerTests
{
    private static readonly RegressionThresholds Thresholds = new() { UnfairnessIncrease = 0.01, WorstSpeedupDrop = 0.05 };

    [Fact]
    public void Compare_UnfairnessRoseBeyondThreshold_Regressed()
    {
        var before = Report("r1", 0.020, ("en", 2.0, null), ("sw", 1.5, null));
        var after = Report("r2", 0.035, ("en", 2.0, null), ("sw", 1.5, null));

        var result = RegressionComparer.Compare(before, after, Thresholds);

        Assert.True(result.Regressed);
        var reason = Assert.Single(result.Reasons);
        Assert.Contains("unfairness U rose from 0.02 to 0.035", reason);
        Assert.Equal(0.020, result.UnfairnessBefore);
        Assert.Equal(0.035, result.UnfairnessAfter);
        Assert.Equal("r1", result.PreviousRunId);
    }

    [Fact]
    public void Compare_UnfairnessRoseWithinThreshold_NotRegressed()
    {
        var before = Report("r1", 0.020, ("en", 2.0, null), ("sw", 1.5, null));
        var after = Report("r2", 0.029, ("en", 2.0, null), ("sw", 1.5, null));

        var result = RegressionComparer.Compare(before, after, Thresholds);

        Assert.False(result.Regressed);
        Assert.Empty(result.Reasons);
    }

    [Fact]
    public void Compare_WorstSpeedupFellTenPercent_Regressed()
    {
        var before = Report("r1", 0.02, ("en", 2.0, null), ("sw", 1.5, null));
        var after = Report("r2", 0.02, ("en", 2.0, null), ("sw", 1.35, null));

        var result = RegressionComparer.Compare(before, after, Thresholds);

        Assert.True(result.Regressed);
        Assert.Contains("worst-task speed-up fell 10.0% from 1.500 (sw) to 1.350 (sw)", Assert.Single(result.Reasons));
        Assert.Equal(1.5, result.WorstSpeedupBefore);
        Assert.Equal(1.35, result.WorstSpeedupAfter);
    }

    [Fact]
    public void Compare_WorstSpeedupFellFourPercent_NotRegressed()
    {
        var before = Report("r1", 0.02, ("en", 2.0, null), ("sw", 1.5, null));
        var after = Report("r2", 0.02, ("en", 2.0, null), ("sw", 1.44, null));

        Assert.False(RegressionComparer.Compare(before, after, Thresholds).Regressed);
    }

    [Fact]
    public void Compare_WorstTaskChanged_ComparesWorstAgainstPreviousWorst()
    {
        // Before: sw is worst at 1.5. After: sw recovered to 1.9 but de fell to 1.3, which is 13.3 % below the old worst.
        var before = Report("r1", 0.02, ("de", 1.8, null), ("sw", 1.5, null));
        var after = Report("r2", 0.02, ("de", 1.3, null), ("sw", 1.9, null));

        var result = RegressionComparer.Compare(before, after, Thresholds);

        Assert.True(result.Regressed);
        Assert.Equal("sw", result.WorstTaskBefore);
        Assert.Equal("de", result.WorstTaskAfter);
        Assert.Contains("fell 13.3%", Assert.Single(result.Reasons));
    }

    [Fact]
    public void Compare_BothThresholdsPassed_TwoReasons()
    {
        var before = Report("r1", 0.01, ("en", 2.0, null), ("sw", 1.5, null));
        var after = Report("r2", 0.05, ("en", 2.0, null), ("sw", 1.0, null));

        var result = RegressionComparer.Compare(before, after, Thresholds);

        Assert.Equal(2, result.Reasons.Count);
    }

    [Fact]
    public void Compare_Improvement_NotRegressed()
    {
        var before = Report("r1", 0.05, ("en", 2.0, null), ("sw", 1.2, null));
        var after = Report("r2", 0.01, ("en", 2.1, null), ("sw", 1.8, null));

        var result = RegressionComparer.Compare(before, after, Thresholds);

        Assert.False(result.Regressed);
        Assert.Equal(1.8, result.WorstSpeedupAfter);
    }

    [Fact]
    public void Compare_AllTasksMeasured_UsesMeasuredSpeedups()
    {
        // Analytical figures say nothing changed; the measured ones fell 20 %.
        var before = Report("r1", 0.02, ("en", 2.0, 1.9), ("sw", 1.5, 1.5));
        var after = Report("r2", 0.02, ("en", 2.0, 1.9), ("sw", 1.5, 1.2));

        var result = RegressionComparer.Compare(before, after, Thresholds);

        Assert.Equal("measured", result.SpeedupBasis);
        Assert.True(result.Regressed);
        Assert.Equal(1.2, result.WorstSpeedupAfter);
    }

    [Fact]
    public void Compare_OneTaskWithoutMeasurement_UsesAnalyticalSpeedups()
    {
        var before = Report("r1", 0.02, ("en", 2.0, 1.9), ("sw", 1.5, 1.5));
        var after = Report("r2", 0.02, ("en", 2.0, null), ("sw", 1.5, 1.2));

        var result = RegressionComparer.Compare(before, after, Thresholds);

        Assert.Equal("analytical", result.SpeedupBasis);
        Assert.False(result.Regressed);
        Assert.Equal(1.5, result.WorstSpeedupAfter);
    }

    [Fact]
    public void Compare_DifferentTaskSets_ListsCommonTasksInIdOrder()
    {
        var before = Report("r1", 0.02, ("sw", 1.5, null), ("en", 2.0, null), ("fr", 1.7, null));
        var after = Report("r2", 0.02, ("en", 2.1, null), ("sw", 1.6, null), ("de", 1.9, null));

        var result = RegressionComparer.Compare(before, after, Thresholds);

        Assert.Equal(["en", "sw"], result.Tasks.Select(t => t.TaskId));
        Assert.Equal((2.0, 2.1), (result.Tasks[0].SpeedupBefore, result.Tasks[0].SpeedupAfter));
        Assert.Equal((1.5, 1.6), (result.Tasks[1].SpeedupBefore, result.Tasks[1].SpeedupAfter));
    }

    [Fact]
    public void Compare_ReportWithoutTasks_ThrowsNamingRuns()
    {
        var before = Report("r1", 0.02);
        var after = Report("r2", 0.02, ("en", 2.0, null));

        var ex = Assert.Throws<ArgumentException>(() => RegressionComparer.Compare(before, after, Thresholds));

        Assert.Contains("'r1'", ex.Message);
    }

    [Fact]
    public void RegressionSection_JsonRoundTrip_Preserved()
    {
        var before = Report("r1", 0.01, ("en", 2.0, null), ("sw", 1.5, null));
        var after = Report("r2", 0.05, ("en", 2.0, null), ("sw", 1.0, null));
        var report = after with { Regression = RegressionComparer.Compare(before, after, Thresholds) };

        var json = report.ToJson();
        var back = EvaluationReport.FromJson(json);

        Assert.Contains("\"regression\"", json);
        Assert.True(back.Regression!.Regressed);
        Assert.Equal(report.Regression!.Reasons, back.Regression.Reasons);
        Assert.Equal(0.05, back.Regression.Thresholds.WorstSpeedupDrop);
    }

    [Fact]
    public void HtmlReport_WithRegression_SectionShowsVerdictReasonsAndTasks()
    {
        var before = Report("r1", 0.01, ("en", 2.0, null), ("sw", 1.5, null));
        var after = Report("r2", 0.05, ("en", 2.0, null), ("sw", 1.0, null));
        var report = after with { Regression = RegressionComparer.Compare(before, after, Thresholds) };

        var html = HtmlReportWriter.Write(report);
        var withoutSection = HtmlReportWriter.Write(after);

        Assert.Contains("<section id=\"regression\" data-regressed=\"true\">", html);
        Assert.Contains("Regression check against run r1: REGRESSED", html);
        Assert.Contains("unfairness U rose from 0.01 to 0.05", html);
        var start = html.IndexOf("<section id=\"regression\"", StringComparison.Ordinal);
        var section = html[start..html.IndexOf("</section>", start, StringComparison.Ordinal)];
        Assert.Contains("data-field=\"speedup-before\" data-value=\"1.5\">1.500<", section);
        Assert.Contains("data-field=\"speedup-after\" data-value=\"1\">1.000<", section);
        Assert.Contains("data-field=\"speedup-after\" data-value=\"2\">2.000<", section);
        Assert.DoesNotContain("id=\"regression\"", withoutSection);
    }
}
