using Azure.Storage.Blobs;
using SpecFunctions.Core.Storage;
using SpecFunctions.Core.Tracing;

namespace SpecFunctions.Functions.EndToEnd.Tests;

/// <summary>Checks on a run read straight from the store, shared by the single-app and the two-plane tests.</summary>
internal static class RunAssertions
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

        await foreach (var blob in container.GetBlobsAsync(Azure.Storage.Blobs.Models.BlobTraits.None, Azure.Storage.Blobs.Models.BlobStates.None, $"runs/{runId}/", CancellationToken.None))
        {
            names.Add(blob.Name);
        }

        return names.Order(StringComparer.Ordinal).ToList();
    }
}
