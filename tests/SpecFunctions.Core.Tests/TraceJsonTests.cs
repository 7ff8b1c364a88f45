using SpecFunctions.Core.Tracing;

namespace SpecFunctions.Core.Tests;

public class TraceJsonTests
{
    [Fact]
    public void StepTrace_RoundTrips()
    {
        var step = new StepTrace { Prompt = 3, Step = 7, Position = 42, Gamma = 4, Accepted = 2, Bonus = false, Emitted = 3, Alpha = [0.9, 0.5, 0.25, 0.1], CrossEntropy = [0.1, 0.2, 0.3, 0.4], Kl = [0.01, 0.02, 0.03, 0.04], DrafterMs = 0.25, DrafterCalls = 4, VerifierMs = 1.5 };
        var line = TraceJson.Serialize(step);
        Assert.StartsWith("{\"$type\":\"step\"", line);
        var back = Assert.IsType<StepTrace>(TraceJson.Deserialize(line));
        Assert.Equal(step.Alpha, back.Alpha);
        Assert.Equal(step with { Alpha = back.Alpha, CrossEntropy = back.CrossEntropy, Kl = back.Kl }, back);
    }

    [Fact]
    public void PromptTrace_WithAddedFields_IsStillRead()
    {
        const string line = """{"$type":"prompt","prompt":1,"generatedTokens":12,"speculativeMs":3.5,"stopReason":"StopToken","futureField":{"x":1},"anotherOne":[1,2]}""";
        var prompt = Assert.IsType<PromptTrace>(TraceJson.Deserialize(line));
        Assert.Equal(1, prompt.Prompt);
        Assert.Equal(12, prompt.GeneratedTokens);
        Assert.Equal(StopReason.StopToken, prompt.StopReason);
        Assert.Null(prompt.BaselineMs);
    }
}
