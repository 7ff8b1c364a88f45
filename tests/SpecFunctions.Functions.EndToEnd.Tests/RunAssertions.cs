using System.Globalization;
using System.Text.RegularExpressions;
using Azure;
using Azure.Storage.Blobs;
using Azure.Storage.Blobs.Models;
using SpecFunctions.Core.Storage;
using SpecFunctions.Core.Tracing;

namespace SpecFunctions.Functions.EndToEnd.Tests;

/// <summary>Checks on a run read straight from the store, shared by the single-app and the two-plane tests.</summary>
internal static partial class RunAssertions
{
    /// <summary>Polls the run's manifest every 100 ms until <paramref name="done"/> holds; <paramref name="tail"/> explains a timeout.</summary>
    public static async Task<RunManifest> WaitForManifestAsync(ITraceStore store, string runId, Func<RunManifest, bool> done, TimeSpan timeout, Func<string> tail)
    {
        var deadline = DateTime.UtcNow + timeout;
        while (true)
        {
            if (await store.GetManifestAsync(runId) is { } manifest && done(manifest))
            {
                return manifest;
            }

            Assert.True(DateTime.UtcNow < deadline, $"run {runId} did not reach the expected state in {timeout.TotalSeconds:F0} s\n{tail()}");
            await Task.Delay(100);
        }
    }

    /// <summary>Every task's committed trace reads back whole: one prompt record per prompt, in order, none twice.</summary>
    public static async Task AssertWholeTracesAsync(ITraceStore store, string runId, IReadOnlyList<string> tasks, int prompts)
    {
        foreach (var task in tasks)
        {
            var seen = new List<int>();
            await foreach (var record in store.ReadTraceAsync(runId, task))
            {
                if (record is PromptTrace prompt)
                {
                    seen.Add(prompt.Prompt);
                }
            }

            Assert.Equal(Enumerable.Range(0, prompts), seen);
        }
    }

    /// <summary>The names of the run's blobs, sorted.</summary>
    public static async Task<List<string>> RunBlobsAsync(string connectionString, string runId)
    {
        var container = new BlobContainerClient(connectionString, TraceStoreLayout.DefaultContainerName);
        var names = new List<string>();
        if (!await container.ExistsAsync())
        {
            return names;
        }

        await foreach (var blob in container.GetBlobsAsync(BlobTraits.None, BlobStates.None, $"runs/{runId}/", CancellationToken.None))
        {
            names.Add(blob.Name);
        }

        return names.Order(StringComparer.Ordinal).ToList();
    }

    /// <summary>The run's committed shards from its manifest: (task, shard) → attempt.</summary>
    public static async Task<Dictionary<(string Task, int Shard), string>> CommittedShardsAsync(ITraceStore store, string runId) =>
        (await store.GetManifestAsync(runId))?.Tasks.Values
            .SelectMany(t => (t.Shards ?? []).Select(s => (Key: (t.TaskId, s.Index), s.Attempt)))
            .ToDictionary(s => s.Key, s => s.Attempt) ?? [];

    /// <summary>The run's shard parts in the container: name → ETag.</summary>
    public static async Task<Dictionary<string, ETag>> ShardPartsAsync(string connectionString, string runId)
    {
        var container = new BlobContainerClient(connectionString, TraceStoreLayout.DefaultContainerName);
        var parts = new Dictionary<string, ETag>(StringComparer.Ordinal);
        await foreach (var blob in container.GetBlobsAsync(BlobTraits.None, BlobStates.None, $"runs/{runId}/", CancellationToken.None))
        {
            if (blob.Name.Contains("/shards/", StringComparison.Ordinal))
            {
                parts.Add(blob.Name, blob.Properties.ETag!.Value);
            }
        }

        return parts;
    }

    /// <summary>The shards of <paramref name="runId"/> a host has logged as started (a shard started twice shows twice).</summary>
    public static List<(string Task, int Shard)> StartedShards(FunctionsHost host, string runId) =>
        host.LogLines($"Run {runId}: task ").Select(l => ShardStarted().Match(l)).Where(m => m.Success)
            .Select(m => (m.Groups["task"].Value, int.Parse(m.Groups["shard"].Value, CultureInfo.InvariantCulture))).ToList();

    /// <summary>How many prompts an evaluation had done when it stopped, from its "… cancelled after N prompt(s) …" log line.</summary>
    public static int PromptsBeforeCancel(string line) => int.Parse(line.Split("cancelled after ")[1].Split(' ')[0], CultureInfo.InvariantCulture);

    /// <summary>Shards as <c>en#0, en#1</c>, for test output.</summary>
    public static string Describe(IEnumerable<(string Task, int Shard)> shards) => string.Join(", ", shards.Order().Select(s => $"{s.Task}#{s.Shard}"));

    [GeneratedRegex(@"task (?<task>\S+) shard (?<shard>\d+) of \d+ started")]
    private static partial Regex ShardStarted();
}
