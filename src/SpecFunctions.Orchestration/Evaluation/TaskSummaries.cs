namespace SpecFunctions.Orchestration;

/// <summary>Merging the summaries of a sharded task's shards into the task's summary.</summary>
public static class TaskSummaries
{
    /// <summary>
    /// One task's summary from its shards' (one summary: returned as it is, without its shard index). The status is the
    /// worst of the shards' (failed, cancelled, then committed over reused); counts add up; α, D and the acceptance
    /// rate are the shards' weighted by positions and drafts, and only when every shard measured them afresh (a shard
    /// already committed returns no statistics: the task's are in its trace, which the report reads).
    /// </summary>
    public static TaskSummary Merge(IReadOnlyList<TaskSummary> shards)
    {
        ArgumentNullException.ThrowIfNull(shards);
        if (shards.Count == 0)
        {
            throw new ArgumentException("no shard summaries to merge", nameof(shards));
        }

        if (shards.Count == 1 && shards[0].Shard is null)
        {
            return shards[0];
        }

        var ordered = shards.OrderBy(s => s.Shard ?? 0).ToList();
        var status = ordered.Any(s => s.Status == TaskOutcome.Failed) ? TaskOutcome.Failed
            : ordered.Any(s => s.Status == TaskOutcome.Cancelled) ? TaskOutcome.Cancelled
            : ordered.Any(s => s.Status == TaskOutcome.Committed) ? TaskOutcome.Committed
            : TaskOutcome.Reused;
        var measured = ordered.All(s => s.Positions is > 0 && s.Alpha is not null && s.CrossEntropy is not null);
        var positions = ordered.Sum(s => s.Positions ?? 0);
        var drafted = ordered.Sum(s => s.Drafted ?? 0);
        var timed = ordered.All(s => s.TokensPerSecond is > 0);
        var seconds = timed ? ordered.Sum(s => s.GeneratedTokens / s.TokensPerSecond!.Value) : 0;
        return new TaskSummary
        {
            TaskId = ordered[0].TaskId,
            Status = status,
            Error = ordered.FirstOrDefault(s => s.Error is not null)?.Error,
            Prompts = ordered.Sum(s => s.Prompts),
            Steps = ordered.Sum(s => s.Steps),
            GeneratedTokens = ordered.Sum(s => s.GeneratedTokens),
            Shards = ordered.Count,
            Alpha = measured ? ordered.Sum(s => s.Alpha!.Value * s.Positions!.Value) / positions : null,
            CrossEntropy = measured ? ordered.Sum(s => s.CrossEntropy!.Value * s.Positions!.Value) / positions : null,
            Positions = measured ? positions : null,
            AcceptanceRate = measured && drafted > 0 && ordered.All(s => s.AcceptanceRate is not null || s.Drafted is 0)
                ? ordered.Sum(s => (s.AcceptanceRate ?? 0) * (s.Drafted ?? 0)) / drafted
                : null,
            Drafted = measured ? drafted : null,
            TokensPerSecond = timed && seconds > 0 ? ordered.Sum(s => s.GeneratedTokens) / seconds : null,
            StartedAt = ordered.Min(s => s.StartedAt),
            CompletedAt = ordered.Max(s => s.CompletedAt),
            ExecutionProvider = ordered.Select(s => s.ExecutionProvider).FirstOrDefault(e => e is not null),
            Device = ordered.Select(s => s.Device).FirstOrDefault(d => d is not null),
        };
    }
}
