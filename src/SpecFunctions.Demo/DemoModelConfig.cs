using System.Text.Json.Serialization;

namespace SpecFunctions.Demo;

/// <summary>How the first layer (a per-position byte table) is written into the ONNX graph.</summary>
public enum DemoFirstLayerExport
{
    /// <summary>
    /// One-hot encode the window and multiply by the whole table (<c>OneHot → MatMul</c>). Every call reads all of the
    /// table's weights, so the model is memory-bound like a real LLM: scoring 5 rows costs little more than 1.
    /// </summary>
    OneHotMatMul,

    /// <summary>Gather the <c>window</c> table rows and sum them: cheap, what a small drafter wants.</summary>
    Gather,
}

/// <summary>
/// Shape of a demo byte-level MLP language model. Layer 1 is a table of <c>Window × 257</c> rows of width
/// <c>HiddenSizes[0]</c> (one row per window position and byte, row 256 is the pad before the start of a text); its
/// rows for the window's bytes are summed, which equals a dense layer on the concatenated one-hot window. Then come
/// dense ReLU layers of <c>HiddenSizes[1..]</c> and a dense output layer of 256 logits.
/// </summary>
public sealed record DemoModelConfig
{
    /// <summary>Number of byte ids in the input table: 256 bytes plus the pad id.</summary>
    public const int TableRows = 257;

    /// <summary>Id used for positions before the start of the text.</summary>
    public const int PadId = 256;

    /// <summary>Output vocabulary (UTF-8 bytes).</summary>
    public const int VocabularySize = 256;

    /// <summary>Model name written to <c>specfn-model.json</c>, e.g. <c>demo-verifier</c>.</summary>
    [JsonPropertyName("name")]
    public required string Name { get; init; }

    /// <summary>Number of previous bytes each position conditions on (including the current one).</summary>
    [JsonPropertyName("window")]
    public required int Window { get; init; }

    /// <summary>Widths of the hidden layers; the first is the width of the byte table.</summary>
    [JsonPropertyName("hiddenSizes")]
    public required IReadOnlyList<int> HiddenSizes { get; init; }

    /// <summary>How the table is exported to ONNX. Default <see cref="DemoFirstLayerExport.OneHotMatMul"/>.</summary>
    [JsonPropertyName("firstLayerExport")]
    public DemoFirstLayerExport FirstLayerExport { get; init; } = DemoFirstLayerExport.OneHotMatMul;

    /// <summary>
    /// The verifier: window 16, hidden 384-384, about 1.83 M parameters (7.3 MB of float32), exported memory-bound.
    /// </summary>
    public static DemoModelConfig Verifier { get; } = new()
    {
        Name = "demo-verifier",
        Window = 16,
        HiddenSizes = [384, 384],
        FirstLayerExport = DemoFirstLayerExport.OneHotMatMul,
    };

    /// <summary>The drafter: window 5, one hidden layer of 64, about 0.1 M parameters (0.4 MB), exported as a gather.</summary>
    public static DemoModelConfig Drafter { get; } = new()
    {
        Name = "demo-drafter",
        Window = 5,
        HiddenSizes = [64],
        FirstLayerExport = DemoFirstLayerExport.Gather,
    };

    /// <summary>Number of trainable parameters.</summary>
    public long ParameterCount
    {
        get
        {
            long count = (long)Window * TableRows * HiddenSizes[0] + HiddenSizes[0];
            for (var l = 0; l < HiddenSizes.Count; l++)
            {
                var input = HiddenSizes[l];
                var output = l + 1 < HiddenSizes.Count ? HiddenSizes[l + 1] : VocabularySize;
                count += (long)input * output + output;
            }

            return count;
        }
    }

    /// <summary>Throws a clear error when the shape is unusable.</summary>
    public void Validate()
    {
        if (string.IsNullOrWhiteSpace(Name))
        {
            throw new ArgumentException("A demo model config needs a name.");
        }

        if (Window < 1 || Window > 1024)
        {
            throw new ArgumentOutOfRangeException(nameof(Window), Window, $"Model '{Name}': window must be in 1..1024.");
        }

        if (HiddenSizes is null || HiddenSizes.Count == 0 || HiddenSizes.Any(h => h < 1 || h > 65536))
        {
            throw new ArgumentException($"Model '{Name}': needs at least one hidden size, each in 1..65536.", nameof(HiddenSizes));
        }
    }
}
