using SpecFunctions.Core.Estimation;

namespace SpecFunctions.Core.Tests.Estimation;

/// <summary>The fan-out model on cases small enough to work out by hand.</summary>
public sealed class FanOutSimulationTests
{
    [Fact]
    public void EqualShards_TwoReplicas_ColdStartAndOverhead()
    {
        // 4 × 10 s on 2 replicas: each runs 2 shards after a 5 s cold start, 1 s overhead each: 5 + 11 + 11 = 27 s.
        var outcome = FanOutSimulation.Run([10, 10, 10, 10], new FanOutSetup
        {
            Replicas = 2, ColdStartSeconds = 5, ShardOverheadSeconds = 1, ScaleInDelaySeconds = 3, PricePerReplicaSecond = 0.5,
        });

        Assert.Equal(4, outcome.Shards);
        Assert.Equal(2, outcome.Replicas);
        Assert.Equal(40, outcome.WorkSeconds);
        Assert.Equal(27, outcome.WallSeconds, 9);
        Assert.Equal(20.0 / 27, outcome.Efficiency, 9);
        Assert.Equal(2 * (27 + 3), outcome.BilledReplicaSeconds, 9);
        Assert.Equal(30, outcome.Cost, 9);
        Assert.Equal(0, outcome.IdleWaitSeconds, 9);
    }

    [Fact]
    public void SubmissionOrder_LeavesTheLongShardLast_LongestFirstDoesNot()
    {
        // [1, 1, 1, 1, 4] on 2 replicas. In order: both replicas run two 1 s shards, then one runs the 4 s shard: 2 + 4 = 6.
        // Longest first: the 4 s shard on one replica, the four 1 s shards on the other: 4.
        double[] shards = [1, 1, 1, 1, 4];

        var submitted = FanOutSimulation.Run(shards, new FanOutSetup { Replicas = 2 });
        var longestFirst = FanOutSimulation.Run(shards, new FanOutSetup { Replicas = 2, Order = ShardOrder.LongestFirst });

        Assert.Equal(6, submitted.WallSeconds, 9);
        Assert.Equal(4, longestFirst.WallSeconds, 9);
        Assert.Equal(8.0 / 2 / 6, submitted.Efficiency, 9);
        Assert.Equal(1, longestFirst.Efficiency, 9);
    }

    [Fact]
    public void SerialDispatch_BoundsTheStartRate_WhateverTheReplicas()
    {
        // Shard k is queued at 2(k + 1) s; with more replicas than shards each starts at once when queued: the last
        // (k = 4) is queued at 10 s and ends at 11 s. The replicas waited 2 + 4 + 6 + 8 + 10 s for their shards.
        var outcome = FanOutSimulation.Run([1, 1, 1, 1, 1], new FanOutSetup { Replicas = 8, DispatchSecondsPerShard = 2 });

        Assert.Equal(11, outcome.WallSeconds, 9);
        Assert.Equal(5, outcome.Replicas);
        Assert.Equal(30, outcome.IdleWaitSeconds, 9);
    }

    [Fact]
    public void SerialCompletions_EndTheRunAfterTheLastIsRecorded()
    {
        // Ten instant shards on ten replicas all end at the 3 s cold start; recording each takes 1 s, one at a time: 13 s.
        var outcome = FanOutSimulation.Run(Enumerable.Repeat(0.0, 10).ToArray(), new FanOutSetup
        {
            Replicas = 10, ColdStartSeconds = 3, CompletionSecondsPerShard = 1,
        });

        Assert.Equal(13, outcome.WallSeconds, 9);
    }

    [Fact]
    public void SameInput_SameOutcome()
    {
        var random = new Random(7);
        var shards = Enumerable.Range(0, 500).Select(_ => random.NextDouble() * 100).ToArray();
        var setup = new FanOutSetup { Replicas = 13, ColdStartSeconds = 30, ShardOverheadSeconds = 0.5, DispatchSecondsPerShard = 0.1, CompletionSecondsPerShard = 0.15 };

        Assert.Equal(FanOutSimulation.Run(shards, setup), FanOutSimulation.Run(shards, setup));
        // More replicas never make the wall time longer here (no per-replica cost in the wall time).
        Assert.True(FanOutSimulation.Run(shards, setup with { Replicas = 26 }).WallSeconds <= FanOutSimulation.Run(shards, setup).WallSeconds);
    }

    [Fact]
    public void LongestFirst_WithoutThePlanesCosts_IsTheEstimatesPlacement()
    {
        // With no dispatch or completion cost, "the first free replica takes the longest remaining shard" is the
        // estimate's longest-first placement on the least loaded replica: same wall time at every replica count.
        var random = new Random(3);
        var shards = Enumerable.Range(0, 200).Select(_ => 1 + (random.NextDouble() * 50)).ToArray();
        foreach (var replicas in new[] { 1, 3, 8, 64 })
        {
            var outcome = FanOutSimulation.Run(shards, new FanOutSetup { Replicas = replicas, ColdStartSeconds = 10, Order = ShardOrder.LongestFirst });

            Assert.Equal(10 + CostEstimator.ReplicaLoads(shards, replicas).Max(), outcome.WallSeconds, 9);
        }
    }

    [Theory]
    [InlineData(-1.0)]
    [InlineData(double.NaN)]
    [InlineData(double.PositiveInfinity)]
    public void NegativeOrNonFiniteTimes_AreRefused(double bad)
    {
        Assert.Throws<ArgumentOutOfRangeException>(() => FanOutSimulation.Run([1, bad], new FanOutSetup { Replicas = 1 }));
        Assert.Throws<ArgumentOutOfRangeException>(() => FanOutSimulation.Run([1], new FanOutSetup { Replicas = 1, ColdStartSeconds = bad }));
        Assert.Throws<ArgumentOutOfRangeException>(() => FanOutSimulation.Run([1], new FanOutSetup { Replicas = 0 }));
    }
}
