using SpecFunctions.Core.Estimation;

namespace SpecFunctions.Core.Tests.Estimation;

/// <summary>The cost model on small cases computed by hand (the arithmetic is in each test's comments).</summary>
public class CostEstimatorTests
{
    // b = 10 ms, d = 2 ms, α = 0.5, v = 1: f_1 = 1.5, f_2 = 1.75; s_1 = (2 + 10) / 1.5 = 8, s_2 = (4 + 10) / 1.75 = 8 ms/token.
    private static readonly CostProfile Profile = new() { VerifierMsPerToken = 10, DrafterMsPerToken = 2, Alpha = 0.5, VerificationCostRatio = 1 };

    [Theory]
    [InlineData(0.5, 2, 1.75)]
    [InlineData(1.0, 4, 5.0)]
    [InlineData(0.0, 3, 1.0)]
    [InlineData(0.9, 0, 1.0)]
    [InlineData(0.5, 1, 1.5)]
    public void TokensPerStep_HandComputed(double alpha, int gamma, double expected) =>
        Assert.Equal(expected, CostEstimator.TokensPerStep(alpha, gamma), 12);

    [Fact]
    public void SpeculativeMsPerToken_HandComputed()
    {
        Assert.Equal(8.0, CostEstimator.SpeculativeMsPerToken(Profile, 1), 12);
        Assert.Equal(8.0, CostEstimator.SpeculativeMsPerToken(Profile, 2), 12);
        // γ = 3: (6 + 10) / 1.875.
        Assert.Equal(16 / 1.875, CostEstimator.SpeculativeMsPerToken(Profile, 3), 12);
        Assert.Equal(10.0, CostEstimator.SpeculativeMsPerToken(Profile, 0), 12);
        // v = 1.5, u ignored here: (4 + 15) / 1.75.
        Assert.Equal(19 / 1.75, CostEstimator.SpeculativeMsPerToken(Profile with { VerificationCostRatio = 1.5 }, 2), 12);
    }

    [Theory]
    [InlineData(5, 2, new[] { 2, 2, 1 })]
    [InlineData(4, null, new[] { 4 })]
    [InlineData(1000, 300, new[] { 250, 250, 250, 250 })]
    [InlineData(250, 64, new[] { 63, 63, 62, 62 })]
    [InlineData(6, 3, new[] { 3, 3 })]
    [InlineData(2, 10, new[] { 2 })]
    public void ShardSizes_AsTheRunSplitsThem_CeilOfPromptsOverShardSizeEvenly(int prompts, int? perShard, int[] expected) =>
        Assert.Equal(expected, CostEstimator.ShardSizes(prompts, perShard));

    [Fact]
    public void ReplicaLoads_LongestFirstOnLeastLoaded()
    {
        // Sorted: 5, 4, 3, 3, 1 → r0 = 5, r1 = 4, 3 → r1 (7), 3 → r0 (8), 1 → r1 (8).
        Assert.Equal([8.0, 8.0], CostEstimator.ReplicaLoads([3, 5, 1, 4, 3], 2));
        // 4 replicas: 5, 4, 3, 3, then 1 on the first of the two least loaded (r2).
        Assert.Equal([5.0, 4.0, 4.0, 3.0], CostEstimator.ReplicaLoads([3, 5, 1, 4, 3], 4));
        Assert.Equal([2.0, 0.0, 0.0], CostEstimator.ReplicaLoads([2], 3));
    }

    [Fact]
    public void Estimate_TwoWholeTasks_WallBilledCostAndEfficiencyByHand()
    {
        // T = 4, R = 1, γ = 2: a prompt is 1·(4·8 + 4·10) = 72 ms. Task a: 3 prompts = 0.216 s, task b: 0.072 s; work 0.288 s.
        // Shards (one per task) with 0.5 s overhead: 0.716 and 0.572 s; GPU-seconds 1.288.
        var estimate = CostEstimator.Estimate(
            [new WorkloadTask("a", 3), new WorkloadTask("b", 1)],
            new WorkloadSettings(Gamma: 2, MaxNewTokens: 4, Repeats: 1),
            Profile,
            new EstimateParameters { MaxReplicas = 3, PerShardOverheadSeconds = 0.5, ColdStartSeconds = 10, PricePerSecond = 0.01, StepProfilePrompts = 0 });

        Assert.Equal((2, 4, 2), (estimate.Tasks, estimate.Prompts, estimate.Shards));
        Assert.Equal(0.288, estimate.WorkSeconds, 12);
        Assert.Equal(1.288, estimate.GpuSeconds, 12);
        Assert.Equal(0.716, estimate.LongestShardSeconds, 12);
        Assert.Equal([1, 2, 3], estimate.ByReplicas.Select(r => r.Replicas));

        // 1 replica: 10 + 1.288. 2 replicas: 10 + 0.716 wall, (10 + 0.716) + (10 + 0.572) billed. 3: the third stays idle, unbilled.
        Assert.Equal([11.288, 10.716, 10.716], estimate.ByReplicas.Select(r => Math.Round(r.WallSeconds, 12)));
        Assert.Equal([11.288, 21.288, 21.288], estimate.ByReplicas.Select(r => Math.Round(r.BilledSeconds, 12)));
        Assert.Equal([0.11288, 0.21288, 0.21288], estimate.ByReplicas.Select(r => Math.Round(r.Cost, 12)));
        Assert.Equal(0.288 / 11.288, estimate.ByReplicas[0].Efficiency, 12);
        Assert.Equal(0.144 / 10.716, estimate.ByReplicas[1].Efficiency, 12);
        Assert.Equal(0.096 / 10.716, estimate.ByReplicas[2].Efficiency, 12);
    }

    [Fact]
    public void Estimate_ShardsStepProfileAndPlainTask_ByHand()
    {
        // T = 4, R = 2, γ = 2. Task a (γ 2): a prompt is 2·(32 + 40) = 144 ms; the step profile of one prompt is
        // 4·s_1 + 4·s_2 = 64 ms, on the task's first prompt only (by index in the task, as the run times it). Shards of 2:
        // [2, 2, 1] → 352, 288, 144 ms.
        // Task b (plain, γ 0): 2·(40 + 40) + one untimed pass at γ 2 (32) = 192 ms a prompt, no profile → one shard of 384 ms.
        var estimate = CostEstimator.Estimate(
            [new WorkloadTask("a", 5), new WorkloadTask("b", 2, Gamma: 0)],
            new WorkloadSettings(Gamma: 2, MaxNewTokens: 4, Repeats: 2),
            Profile,
            new EstimateParameters { PromptsPerShard = 2, MaxReplicas = 2, PerShardOverheadSeconds = 0, ColdStartSeconds = 0, StepProfilePrompts = 1 });

        Assert.Equal(4, estimate.Shards);
        Assert.Equal(1.168, estimate.WorkSeconds, 12);
        Assert.Equal(1.168, estimate.GpuSeconds, 12);
        Assert.Equal(0.384, estimate.LongestShardSeconds, 12);
        Assert.Equal(1.168, estimate.ByReplicas[0].WallSeconds, 12);

        // Longest first: 0.384 → r0, 0.352 → r1, 0.288 → r1 (0.640), 0.144 → r0 (0.528).
        Assert.Equal(0.640, estimate.ByReplicas[1].WallSeconds, 12);
        Assert.Equal(0.584 / 0.640, estimate.ByReplicas[1].Efficiency, 12);
        Assert.Equal(0, estimate.ByReplicas[1].Cost);
    }

    [Fact]
    public void Estimate_UntimedWorkPerToken_AddsOncePerPrompt()
    {
        // u = 5 ms/token over T = 4 tokens adds 20 ms per prompt, not per repeat: 2·(32 + 40) + 20 = 164 ms.
        Assert.Equal(164, CostEstimator.PromptMs(Profile with { UntimedMsPerToken = 5 }, new WorkloadSettings(2, 4, 2), 2), 12);
    }

    [Fact]
    public void Prediction_AtReplicas_TakesThatRowAndClamps()
    {
        var estimate = CostEstimator.Estimate(
            [new WorkloadTask("a", 3), new WorkloadTask("b", 1)],
            new WorkloadSettings(2, 4, 1),
            Profile,
            new EstimateParameters { MaxReplicas = 2, PerShardOverheadSeconds = 0.5, ColdStartSeconds = 10, PricePerSecond = 0.01, StepProfilePrompts = 0 });

        var two = RunPrediction.From(estimate, 2);
        Assert.Equal((2, 10.716, 1.288, 0.21288), (two.Replicas, Math.Round(two.WallSeconds, 12), Math.Round(two.GpuSeconds, 12), Math.Round(two.Cost, 12)));
        Assert.Equal(2, RunPrediction.From(estimate, 9).Replicas);
    }

    [Theory]
    [InlineData(0, 2, 0.5, "verifierMsPerToken")]
    [InlineData(10, -1, 0.5, "drafterMsPerToken")]
    [InlineData(10, 2, 1.5, "alpha")]
    [InlineData(double.NaN, 2, 0.5, "verifierMsPerToken")]
    public void Estimate_ImpossibleProfile_IsRefusedByName(double b, double d, double alpha, string field)
    {
        var ex = Assert.Throws<ArgumentException>(() => CostEstimator.Estimate(
            [new WorkloadTask("a", 1)], new WorkloadSettings(2, 4, 1),
            new CostProfile { VerifierMsPerToken = b, DrafterMsPerToken = d, Alpha = alpha }, new EstimateParameters()));
        Assert.StartsWith(field, ex.Message);
    }
}
