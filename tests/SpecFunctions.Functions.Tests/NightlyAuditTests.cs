using Microsoft.Azure.Functions.Worker;
using Microsoft.DurableTask;
using Microsoft.DurableTask.Client;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Options;
using Moq;
using SpecFunctions.Core.Evaluation;
using SpecFunctions.Core.Reporting;
using SpecFunctions.Functions.Audit;
using static SpecFunctions.Core.Tests.Reporting.TestReports;
using SpecFunctions.Orchestration;

namespace SpecFunctions.Functions.Tests;

public sealed class NightlyAuditTests : IDisposable
{
    private static readonly DateTimeOffset Now = new(2026, 11, 29, 2, 0, 0, TimeSpan.Zero);
    private const string NewRunId = "audit-mgsm-20261129t020000";

    private readonly TestStore _store = new();
    private readonly SuiteRegistry _registry;
    private readonly Mock<DurableTaskClient> _client = new(MockBehavior.Strict, "test");
    private readonly List<(string Name, EvaluationRequest Input, string? InstanceId)> _scheduled = [];

    public NightlyAuditTests()
    {
        _registry = new SuiteRegistry(_store.Objects);
        _client.Setup(c => c.GetInstanceAsync(It.IsAny<string>(), It.IsAny<bool>(), It.IsAny<CancellationToken>())).ReturnsAsync((OrchestrationMetadata?)null);
        _client.Setup(c => c.ScheduleNewOrchestrationInstanceAsync(It.IsAny<TaskName>(), It.IsAny<object?>(), It.IsAny<StartOrchestrationOptions?>(), It.IsAny<CancellationToken>()))
            .Callback((TaskName name, object? input, StartOrchestrationOptions? options, CancellationToken _) => _scheduled.Add((name.Name, (EvaluationRequest)input!, options?.InstanceId)))
            .ReturnsAsync((TaskName _, object? _, StartOrchestrationOptions? options, CancellationToken _) => options!.InstanceId!);
    }

    public void Dispose() => _store.Dispose();

    private NightlyAudit Audit() => new(
        _registry, _store.Store, Options.Create(new RegressionThresholds { UnfairnessIncrease = 0.01, WorstSpeedupDrop = 0.05 }),
        new FixedTime(Now), NullLogger<NightlyAudit>.Instance);

    private static EvaluationRequest Template() => new()
    {
        RunId = "template",
        Suite = new SuiteDefinition { Name = "MGSM", Tasks = [new SuiteTask { Id = "en", Prompts = ["one"] }, new SuiteTask { Id = "sw", Prompts = ["moja"] }] },
        Verifier = "demo-verifier",
        Drafter = "demo-drafter",
        Settings = new EvaluationSettings { Gamma = 3 },
    };

    private async Task RegisterWithRunsAsync(params string[] runs)
    {
        await _registry.RegisterAsync("mgsm", Template());
        foreach (var run in runs)
        {
            await _registry.RecordRunAsync("mgsm", run);
        }
    }

    [Fact]
    public async Task Run_LatestRegressed_RegressionWrittenIntoLatestReportAndNewRunScheduled()
    {
        await RegisterWithRunsAsync("audit-mgsm-1", "audit-mgsm-2");
        await ReportPublisher.PublishAsync(_store.Store, Report("audit-mgsm-1", 0.010, ("en", 2.0, null), ("sw", 1.5, null)));
        await ReportPublisher.PublishAsync(_store.Store, Report("audit-mgsm-2", 0.030, ("en", 2.0, null), ("sw", 1.2, null)));

        await Audit().Run(new TimerInfo(), _client.Object, CancellationToken.None);

        var regression = (await ReportPublisher.ReadAsync(_store.Store, "audit-mgsm-2"))!.Regression!;
        Assert.True(regression.Regressed);
        Assert.Equal("audit-mgsm-1", regression.PreviousRunId);
        Assert.Equal(2, regression.Reasons.Count);
        Assert.Equal((1.5, 1.2), (regression.WorstSpeedupBefore, regression.WorstSpeedupAfter));
        Assert.Null((await ReportPublisher.ReadAsync(_store.Store, "audit-mgsm-1"))!.Regression);
        var (name, input, instanceId) = Assert.Single(_scheduled);
        Assert.Equal(DurableNames.EvaluateSuite, name);
        Assert.Equal(NewRunId, instanceId);
        Assert.Equal(NewRunId, input.RunId);
        Assert.Equal(3, input.Settings.Gamma);
        Assert.Equal(["audit-mgsm-1", "audit-mgsm-2", NewRunId], Assert.Single(await _registry.ListAsync()).Runs);
    }

    [Fact]
    public async Task AuditAsync_NoRegression_SectionSaysSo()
    {
        await RegisterWithRunsAsync("audit-mgsm-1", "audit-mgsm-2");
        await ReportPublisher.PublishAsync(_store.Store, Report("audit-mgsm-1", 0.010, ("en", 2.0, null), ("sw", 1.5, null)));
        await ReportPublisher.PublishAsync(_store.Store, Report("audit-mgsm-2", 0.012, ("en", 2.1, null), ("sw", 1.49, null)));

        var result = Assert.Single(await Audit().AuditAsync(_client.Object, CancellationToken.None));

        Assert.Equal("audit-mgsm-2", result.ComparedRunId);
        Assert.False(result.Regression!.Regressed);
        Assert.False((await ReportPublisher.ReadAsync(_store.Store, "audit-mgsm-2"))!.Regression!.Regressed);
    }

    [Fact]
    public async Task AuditAsync_LatestStillRunning_NotComparedButNewRunScheduled()
    {
        await RegisterWithRunsAsync("audit-mgsm-1", "audit-mgsm-2");
        await ReportPublisher.PublishAsync(_store.Store, Report("audit-mgsm-1", 0.010, ("en", 2.0, null)));

        var result = Assert.Single(await Audit().AuditAsync(_client.Object, CancellationToken.None));

        Assert.Null(result.ComparedRunId);
        Assert.Equal(NewRunId, result.ScheduledRunId);
        Assert.Single(_scheduled);
    }

    [Fact]
    public async Task AuditAsync_PreviousRunHasNoReport_ComparesWithLatestEarlierReport()
    {
        await RegisterWithRunsAsync("audit-mgsm-1", "audit-mgsm-2", "audit-mgsm-3");
        await ReportPublisher.PublishAsync(_store.Store, Report("audit-mgsm-1", 0.010, ("en", 2.0, null)));
        await ReportPublisher.PublishAsync(_store.Store, Report("audit-mgsm-3", 0.010, ("en", 1.0, null)));

        var result = Assert.Single(await Audit().AuditAsync(_client.Object, CancellationToken.None));

        Assert.Equal("audit-mgsm-1", result.Regression!.PreviousRunId);
        Assert.True(result.Regression.Regressed);
    }

    [Fact]
    public async Task AuditAsync_AlreadyCompared_NotComparedAgain()
    {
        await RegisterWithRunsAsync("audit-mgsm-1", "audit-mgsm-2");
        await ReportPublisher.PublishAsync(_store.Store, Report("audit-mgsm-1", 0.010, ("en", 2.0, null)));
        await ReportPublisher.PublishAsync(_store.Store, Report("audit-mgsm-2", 0.010, ("en", 2.0, null)));
        await Audit().AuditAsync(_client.Object, CancellationToken.None);

        var second = Assert.Single(await Audit().AuditAsync(_client.Object, CancellationToken.None));

        Assert.Null(second.ComparedRunId);
    }

    [Fact]
    public async Task AuditAsync_InstanceAlreadyExists_NotScheduledAgainButRecorded()
    {
        await RegisterWithRunsAsync();
        _client.Setup(c => c.GetInstanceAsync(NewRunId, It.IsAny<bool>(), It.IsAny<CancellationToken>()))
            .ReturnsAsync(new OrchestrationMetadata(DurableNames.EvaluateSuite, NewRunId) { RuntimeStatus = OrchestrationRuntimeStatus.Running });

        await Audit().AuditAsync(_client.Object, CancellationToken.None);

        Assert.Empty(_scheduled);
        Assert.Equal([NewRunId], Assert.Single(await _registry.ListAsync()).Runs);
    }

    [Fact]
    public async Task AuditAsync_OneSuiteFails_OthersStillAudited()
    {
        await _registry.RegisterAsync("a-suite", Template());
        await _registry.RegisterAsync("b-suite", Template());
        _client.Setup(c => c.ScheduleNewOrchestrationInstanceAsync(
                It.Is<TaskName>(n => true), It.Is<object?>(i => ((EvaluationRequest)i!).RunId.StartsWith("audit-a-suite-")), It.IsAny<StartOrchestrationOptions?>(), It.IsAny<CancellationToken>()))
            .ThrowsAsync(new InvalidOperationException("task hub unavailable"));

        var results = await Audit().AuditAsync(_client.Object, CancellationToken.None);

        Assert.Equal(["a-suite", "b-suite"], results.Select(r => r.Suite));
        Assert.Null(results[0].ScheduledRunId);
        Assert.Equal("audit-b-suite-20261129t020000", results[1].ScheduledRunId);
    }

    [Fact]
    public async Task AuditAsync_EmptyRegistry_NothingScheduledNothingWritten()
    {
        var results = await Audit().AuditAsync(_client.Object, CancellationToken.None);

        Assert.Empty(results);
        Assert.Empty(_scheduled);
        Assert.Empty(_store.Files);
    }

    [Fact]
    public void AuditRunId_LongestSuiteName_FitsIdPattern()
    {
        var id = NightlyAudit.AuditRunId(new string('s', SuiteRegistry.MaxNameChars), Now);

        Assert.True(Core.Storage.StoreIds.IsValid(id), id);
        Assert.EndsWith("-20261129t020000", id);
    }

    private sealed class FixedTime(DateTimeOffset now) : TimeProvider
    {
        public override DateTimeOffset GetUtcNow() => now;
    }
}
