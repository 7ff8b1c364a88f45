using SpecFunctions.Core.Mitigation.Training;

namespace SpecFunctions.Demo.Hosting;

/// <summary>
/// Trains a new demo drafter (family <c>specfn-demo</c>) in process with <see cref="DrafterMitigation"/> on an
/// <see cref="MlpFineTunableDrafter"/>: s-CDF, data balancing, drafter temperature tuning or none (hyperparameters:
/// <see cref="MitigationOptions.Mlp"/>, SpecFunctions.Demo README, "Mitigation"). Beside the new drafter it writes the
/// corrective data the training used. Deterministic for the job's seed.
/// </summary>
public sealed class DemoDrafterTrainer : InProcessDrafterTrainer
{
    /// <summary>Uses the documented default hyperparameters.</summary>
    public DemoDrafterTrainer()
        : this(MitigationOptions.Mlp)
    {
    }

    /// <summary>Uses <paramref name="options"/> (tests and experiments).</summary>
    public DemoDrafterTrainer(MitigationOptions options)
        : base(DemoModels.Family, options)
    {
    }

    /// <inheritdoc/>
    protected override IFineTunableDrafter Open(string verifierFolder, string drafterFolder) => MlpFineTunableDrafter.Open(verifierFolder, drafterFolder);

    /// <inheritdoc/>
    protected override void WriteFiles(IFineTunableDrafter drafter, string outputFolder)
    {
        if (drafter is MlpFineTunableDrafter { CorrectiveData: { Count: > 0 } data })
        {
            WriteCorrectiveData(data, Path.Combine(outputFolder, DrafterTrainerFiles.CorrectiveData));
        }
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
