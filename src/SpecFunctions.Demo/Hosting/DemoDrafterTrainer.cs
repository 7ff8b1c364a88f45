using SpecFunctions.Core.Mitigation.Training;

namespace SpecFunctions.Demo.Hosting;

/// <summary>
/// Trains a new demo drafter (family <c>specfn-demo</c>) in process with <see cref="DemoMitigation"/>: s-CDF,
/// data balancing, drafter temperature tuning or none (hyperparameters: SpecFunctions.Demo README, "Mitigation").
/// The verifier and base drafter folders are only read. Deterministic for the job's seed.
/// </summary>
public sealed class DemoDrafterTrainer : IDrafterTrainer
{
    private readonly DemoMitigationOptions _options;

    /// <summary>Uses the documented default hyperparameters.</summary>
    public DemoDrafterTrainer()
        : this(new DemoMitigationOptions())
    {
    }

    /// <summary>Uses <paramref name="options"/> (tests and experiments).</summary>
    public DemoDrafterTrainer(DemoMitigationOptions options)
    {
        ArgumentNullException.ThrowIfNull(options);
        _options = options;
    }

    /// <inheritdoc/>
    public bool Supports(string family) => string.Equals(family, DemoModels.Family, StringComparison.Ordinal);

    /// <summary>
    /// Writes the new drafter to <c>outputFolder/drafter</c> and returns that folder. The folder appears only when it
    /// is complete (assembled under a staging name, renamed last); a cancelled or failed run leaves none.
    /// </summary>
    public Task<string> TrainAsync(DrafterTrainingJob job, string outputFolder, IProgress<string>? progress, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(job);
        ArgumentException.ThrowIfNullOrWhiteSpace(outputFolder);
        var tasks = job.Tasks.Select(t => new DemoMitigationTask(t.Id, t.CrossEntropy, t.TrainingPrompts, t.HeldOutPrompts)).ToArray();
        return Task.Run(
            () =>
            {
                var (folder, result) = DemoMitigation.TrainToFolder(
                    job.VerifierFolder, job.DrafterFolder, job.Strategy, job.WeightRule, tasks, job.Seed, outputFolder, _options, progress, cancellationToken);
                if (result.CorrectiveData is { Count: > 0 } data)
                {
                    WriteCorrectiveData(data, Path.Combine(outputFolder, DrafterTrainerFiles.CorrectiveData));
                }

                return folder;
            },
            cancellationToken);
    }

    /// <summary>Number of most likely next bytes kept per soft label; the remaining mass is recorded as <c>rest</c>.</summary>
    public const int CorrectiveDataTopK = 16;

    /// <summary>
    /// Writes the corrective data the training used as gzip JSON lines:
    /// <c>{"task", "context" (base64 bytes), "top": [[byte, p], ...], "rest"}</c>.
    /// </summary>
    private static void WriteCorrectiveData(IReadOnlyList<SoftLabelTask> tasks, string path)
    {
        using var file = File.Create(path);
        using var gzip = new System.IO.Compression.GZipStream(file, System.IO.Compression.CompressionLevel.Fastest);
        using var json = new System.Text.Json.Utf8JsonWriter(gzip);
        var order = new int[DemoModelConfig.VocabularySize];
        foreach (var data in tasks)
        {
            foreach (var example in data.Examples)
            {
                for (var i = 0; i < order.Length; i++)
                {
                    order[i] = i;
                }

                var target = example.Target;
                Array.Sort(order, (a, b) => target[b].CompareTo(target[a]));
                json.WriteStartObject();
                json.WriteString("task", data.Id);
                json.WriteBase64String("context", example.Context);
                json.WriteStartArray("top");
                double kept = 0;
                for (var k = 0; k < CorrectiveDataTopK; k++)
                {
                    json.WriteStartArray();
                    json.WriteNumberValue(order[k]);
                    json.WriteNumberValue(target[order[k]]);
                    json.WriteEndArray();
                    kept += target[order[k]];
                }

                json.WriteEndArray();
                json.WriteNumber("rest", Math.Max(0, 1 - kept));
                json.WriteEndObject();
                json.Flush();
                gzip.WriteByte((byte)'\n');

                // One JSON document per line: the writer starts a new root value after each.
                json.Reset();
            }
        }
    }
}
