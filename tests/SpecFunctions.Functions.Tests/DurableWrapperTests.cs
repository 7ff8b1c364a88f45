using Microsoft.DurableTask;
using Moq;
using SpecFunctions.Core.Evaluation;
using SpecFunctions.Functions.Durable;
using SpecFunctions.Orchestration;

namespace SpecFunctions.Functions.Tests;

public class DurableWrapperTests
{
    [Fact]
    public void FunctionActivityContext_InstanceIdInBindingData_Exposed()
    {
        var context = new FunctionActivityContext(DurableNames.EvaluateTask, new TestFunctionContext(new Dictionary<string, object?> { ["instanceId"] = "nightly-1" }));

        Assert.Equal("nightly-1", context.InstanceId);
        Assert.Equal(DurableNames.EvaluateTask, context.Name.Name);
    }

    [Fact]
    public void FunctionActivityContext_NoInstanceId_Empty()
    {
        var context = new FunctionActivityContext(DurableNames.PrepareRun, new TestFunctionContext(new Dictionary<string, object?>()));

        Assert.Equal("", context.InstanceId);
    }

    [Fact]
    public async Task EvaluateSuite_NoInput_ThrowsNamingInstance()
    {
        var context = new Mock<TaskOrchestrationContext>();
        context.Setup(c => c.GetInput<EvaluationRequest>()).Returns((EvaluationRequest?)null);
        context.SetupGet(c => c.InstanceId).Returns("nightly-1");
        context.SetupGet(c => c.Name).Returns(new TaskName(DurableNames.EvaluateSuite));

        var ex = await Assert.ThrowsAsync<InvalidOperationException>(() => EvaluationOrchestrations.EvaluateSuite(context.Object));

        Assert.Equal("orchestration EvaluateSuite of nightly-1 has no EvaluationRequest input", ex.Message);
    }
}
