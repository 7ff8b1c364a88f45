using System.Text.Json;

namespace SpecFunctions.Functions.Tests;

/// <summary>The build's <c>functions.metadata</c> is what the Functions host indexes: every trigger, route and method.</summary>
public class FunctionsMetadataTests
{
    private static readonly Lazy<Dictionary<string, JsonElement>> Functions = new(Load);

    private static Dictionary<string, JsonElement> Load()
    {
        var path = FindMetadata();
        using var document = JsonDocument.Parse(File.ReadAllBytes(path));
        return document.RootElement.EnumerateArray().ToDictionary(f => f.GetProperty("name").GetString()!, f => f.Clone());
    }

    /// <summary>Next to the test assembly (the project reference copies it), else the Functions project's own output of the same configuration.</summary>
    private static string FindMetadata()
    {
        var here = Path.Combine(AppContext.BaseDirectory, "functions.metadata");
        if (File.Exists(here))
        {
            return here;
        }

        var dir = new DirectoryInfo(AppContext.BaseDirectory);
        while (dir is not null && !File.Exists(Path.Combine(dir.FullName, "SpecFunctions.sln")))
        {
            dir = dir.Parent;
        }

        Assert.NotNull(dir);
#if DEBUG
        const string configuration = "Debug";
#else
        const string configuration = "Release";
#endif
        var candidate = Path.Combine(dir.FullName, "src", "SpecFunctions.Functions", "bin", configuration, "net10.0", "functions.metadata");
        Assert.True(File.Exists(candidate), $"functions.metadata not found next to the tests or at {candidate}: build SpecFunctions.Functions first");
        return candidate;
    }

    private static JsonElement Trigger(string function)
    {
        Assert.True(Functions.Value.TryGetValue(function, out var f), $"function '{function}' is not in functions.metadata");
        return f.GetProperty("bindings").EnumerateArray().Single(b => b.GetProperty("type").GetString()!.EndsWith("Trigger", StringComparison.Ordinal));
    }

    [Fact]
    public void Metadata_ListsExactlyTheAppsFunctions()
    {
        Assert.Equal(
            [
                "CancelEvaluation", "CompareAndPromote", "CompleteQueuedTask", "ComputeFairness", "DispatchTask", "DrafterReady",
                "EvaluateQueuedTask", "EvaluateSuite", "EvaluateTask", "EvaluateTaskChunk",
                "FineTuneDrafter", "GetDashboard", "GetEvaluationReport", "GetEvaluationStatus", "ListAuditSuites", "ListEvaluations", "MitigateDrafter", "NightlyAudit",
                "PlanGating", "PlanMitigation", "PrepareRun", "RegisterAuditSuite", "SendMitigationPlan", "SubmitEvaluation",
            ],
            Functions.Value.Keys.Order(StringComparer.Ordinal));
    }

    [Theory]
    [InlineData("SubmitEvaluation", "evaluations", "post")]
    [InlineData("GetEvaluationStatus", "evaluations/{runId}", "get")]
    [InlineData("ListEvaluations", "evaluations", "get")]
    [InlineData("GetEvaluationReport", "evaluations/{runId}/report", "get")]
    [InlineData("CancelEvaluation", "evaluations/{runId}/cancel", "post")]
    [InlineData("RegisterAuditSuite", "audit/suites/{name}", "put")]
    [InlineData("DrafterReady", "evaluations/{runId}/mitigation/drafter-ready", "post")]
    [InlineData("ListAuditSuites", "audit/suites", "get")]
    [InlineData("GetDashboard", "dashboard", "get")]
    public void Metadata_HttpFunction_RouteMethodAndFunctionKey(string function, string route, string method)
    {
        var trigger = Trigger(function);

        Assert.Equal("httpTrigger", trigger.GetProperty("type").GetString());
        Assert.Equal(route, trigger.GetProperty("route").GetString());
        Assert.Equal([method], trigger.GetProperty("methods").EnumerateArray().Select(m => m.GetString()));
        Assert.Equal("Function", trigger.GetProperty("authLevel").GetString());
    }

    [Theory]
    [InlineData("EvaluateSuite", "orchestrationTrigger")]
    [InlineData("EvaluateTaskChunk", "orchestrationTrigger")]
    [InlineData("PrepareRun", "activityTrigger")]
    [InlineData("EvaluateTask", "activityTrigger")]
    [InlineData("ComputeFairness", "activityTrigger")]
    [InlineData("DispatchTask", "activityTrigger")]
    [InlineData("MitigateDrafter", "orchestrationTrigger")]
    [InlineData("PlanGating", "activityTrigger")]
    [InlineData("PlanMitigation", "activityTrigger")]
    [InlineData("FineTuneDrafter", "activityTrigger")]
    [InlineData("SendMitigationPlan", "activityTrigger")]
    [InlineData("CompareAndPromote", "activityTrigger")]
    public void Metadata_DurableFunction_TriggerType(string function, string type)
    {
        Assert.Equal(type, Trigger(function).GetProperty("type").GetString());
    }

    [Theory]
    [InlineData("EvaluateQueuedTask", "specfn-evaluations")]
    [InlineData("CompleteQueuedTask", "specfn-completions")]
    public void Metadata_QueueFunction_ReadsItsQueueWithTheAppsStorageConnection(string function, string queue)
    {
        var trigger = Trigger(function);

        Assert.Equal("queueTrigger", trigger.GetProperty("type").GetString());
        Assert.Equal(queue, trigger.GetProperty("queueName").GetString());
        // No connection named: AzureWebJobsStorage, the identity-based account the scale rule reads too.
        Assert.False(trigger.TryGetProperty("connection", out var connection) && connection.GetString() is { Length: > 0 }, $"connection {connection}");
    }

    [Fact]
    public void Metadata_NightlyAudit_TimerFromAppSetting()
    {
        var trigger = Trigger("NightlyAudit");

        Assert.Equal("timerTrigger", trigger.GetProperty("type").GetString());
        Assert.Equal("%AUDIT_SCHEDULE%", trigger.GetProperty("schedule").GetString());
    }

    [Fact]
    public void Metadata_FunctionsWithClient_HaveDurableClientBinding()
    {
        foreach (var name in new[] { "SubmitEvaluation", "GetEvaluationStatus", "CancelEvaluation", "NightlyAudit", "DrafterReady" })
        {
            Assert.Contains(Functions.Value[name].GetProperty("bindings").EnumerateArray(), b => b.GetProperty("type").GetString() == "durableClient");
        }
    }
}
