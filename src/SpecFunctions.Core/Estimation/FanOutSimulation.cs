namespace SpecFunctions.Core.Estimation;

/// <summary>The order in which a run's shards reach the evaluator queue.</summary>
public enum ShardOrder
{
    /// <summary>As the orchestrator submits them: task by task, each task's shards in prompt order (what the product does).</summary>
    Submission,

    /// <summary>Longest first (the static estimate's placement, and a bound on what reordering could gain).</summary>
    LongestFirst,
}

/// <summary>
/// How a run fans out, for <see cref="FanOutSimulation"/>: replicas, their start-up, the per-shard costs on the evaluator
/// and on the orchestration plane, and billing. Seconds throughout.
/// </summary>
public sealed record FanOutSetup
{
    /// <summary>Evaluator replicas (each runs one shard at a time).</summary>
    public required int Replicas { get; init; }

    /// <summary>From the run's start until a replica takes its first shard (scale-out, image pull, model load, warm-up); billed.</summary>
    public double ColdStartSeconds { get; init; }

    /// <summary>Per shard on the replica, besides its prompts: the message, the run's manifest, committing the trace part.</summary>
    public double ShardOverheadSeconds { get; init; }

    /// <summary>
    /// Per shard on the orchestration plane before the shard can be taken: one orchestrator episode schedules it (and, on
    /// the queue plane, a dispatch activity enqueues it). Serial: shard i is available at (i + 1) × this.
    /// </summary>
    public double DispatchSecondsPerShard { get; init; }

    /// <summary>
    /// Per shard on the orchestration plane after it ends: the orchestrator replays and records its completion. Serial,
    /// in completion order: the run ends when the last completion is recorded.
    /// </summary>
    public double CompletionSecondsPerShard { get; init; }

    /// <summary>How long a replica stays (billed) after its last shard before it scales in.</summary>
    public double ScaleInDelaySeconds { get; init; }

    /// <summary>Price of one replica-second; 0 leaves the cost at 0.</summary>
    public double PricePerReplicaSecond { get; init; }

    /// <summary>The order in which shards are queued. Default <see cref="ShardOrder.Submission"/>.</summary>
    public ShardOrder Order { get; init; } = ShardOrder.Submission;
}

/// <summary>What one simulated run took.</summary>
/// <param name="Shards">Shards run.</param>
/// <param name="Replicas">Replicas that ran at least one shard (no more than the shards).</param>
/// <param name="WorkSeconds">The shards' own work, summed (no overheads): the GPU-seconds a perfect fan-out spends.</param>
/// <param name="WallSeconds">From the run's start until the orchestrator recorded the last completion.</param>
/// <param name="Efficiency">Ideal / actual: (<paramref name="WorkSeconds"/> / replicas of the setup) / <paramref name="WallSeconds"/>.</param>
/// <param name="BilledReplicaSeconds">Each replica that ran a shard, from the start until its last shard ended plus the scale-in delay.</param>
/// <param name="Cost"><paramref name="BilledReplicaSeconds"/> × the price per replica-second.</param>
/// <param name="IdleWaitSeconds">Replica time spent ready but waiting for a shard to be dispatched, summed over replicas.</param>
public sealed record FanOutOutcome(
    int Shards, int Replicas, double WorkSeconds, double WallSeconds, double Efficiency, double BilledReplicaSeconds, double Cost, double IdleWaitSeconds);

/// <summary>
/// A discrete-event model of a run's fan-out (issue 28, docs/scale.md): the orchestrator queues the shards one after
/// another, every replica takes the next queued shard as soon as it is free, and the orchestrator records completions one
/// at a time. Deterministic: the same shards and setup give the same outcome.
/// </summary>
/// <remarks>
/// With shards queued in a fixed order and released at non-decreasing times, "the first free replica takes the next
/// shard" is list scheduling, so the events need no general queue: a heap of replica free times in shard order, then the
/// completions in time order through the single orchestration server.
/// </remarks>
public static class FanOutSimulation
{
    /// <summary>Simulates one run of <paramref name="shardWorkSeconds"/> (each shard's own work) under <paramref name="setup"/>.</summary>
    public static FanOutOutcome Run(IReadOnlyList<double> shardWorkSeconds, FanOutSetup setup)
    {
        ArgumentNullException.ThrowIfNull(shardWorkSeconds);
        ArgumentNullException.ThrowIfNull(setup);
        ArgumentOutOfRangeException.ThrowIfLessThan(setup.Replicas, 1);
        foreach (var value in new[]
                 {
                     setup.ColdStartSeconds, setup.ShardOverheadSeconds, setup.DispatchSecondsPerShard, setup.CompletionSecondsPerShard,
                     setup.ScaleInDelaySeconds, setup.PricePerReplicaSecond,
                 }.Concat(shardWorkSeconds))
        {
            if (!double.IsFinite(value) || value < 0)
            {
                throw new ArgumentOutOfRangeException(nameof(setup), value, "every time, price and shard duration must be a finite number >= 0");
            }
        }

        var order = setup.Order == ShardOrder.LongestFirst
            ? Enumerable.Range(0, shardWorkSeconds.Count).OrderByDescending(i => shardWorkSeconds[i]).ThenBy(i => i).ToArray()
            : Enumerable.Range(0, shardWorkSeconds.Count).ToArray();

        // Replicas by the time they are next free (ties: the lowest index, so the outcome does not depend on heap order).
        var free = new PriorityQueue<int, (double Time, int Replica)>();
        var lastEnd = new double[setup.Replicas];
        var used = new bool[setup.Replicas];
        for (var r = 0; r < setup.Replicas; r++)
        {
            free.Enqueue(r, (setup.ColdStartSeconds, r));
            lastEnd[r] = setup.ColdStartSeconds;
        }

        var ends = new double[order.Length];
        double idle = 0;
        for (var k = 0; k < order.Length; k++)
        {
            var available = (k + 1) * setup.DispatchSecondsPerShard;
            free.TryDequeue(out var replica, out var at);
            var start = Math.Max(at.Time, available);
            idle += start - at.Time;
            var end = start + setup.ShardOverheadSeconds + shardWorkSeconds[order[k]];
            ends[k] = end;
            lastEnd[replica] = end;
            used[replica] = true;
            free.Enqueue(replica, (end, replica));
        }

        Array.Sort(ends);
        double recorded = 0;
        foreach (var end in ends)
        {
            recorded = Math.Max(recorded, end) + setup.CompletionSecondsPerShard;
        }

        var work = shardWorkSeconds.Sum();
        var billed = Enumerable.Range(0, setup.Replicas).Where(r => used[r]).Sum(r => lastEnd[r] + setup.ScaleInDelaySeconds);
        var efficiency = recorded > 0 ? work / setup.Replicas / recorded : 1;
        return new FanOutOutcome(order.Length, used.Count(u => u), work, recorded, efficiency, billed, billed * setup.PricePerReplicaSecond, idle);
    }
}
