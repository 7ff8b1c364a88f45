using Google.Protobuf;
using Onnx;
using SpecFunctions.OnnxGraphs;
using static SpecFunctions.OnnxGraphs.OnnxGraphWriter;

namespace SpecFunctions.Demo;

/// <summary>
/// Writes a demo model as a <c>stateless</c> ONNX graph: input <c>input_ids</c> int64 <c>[1, L]</c> (L dynamic),
/// output <c>logits</c> float32 <c>[1, L, 256]</c>, where row t is the next-byte distribution given tokens
/// t-Window+1..t, positions before the start being the pad id. The optional input <see cref="LogitsToKeepName"/>
/// (int64 scalar, default 0 = all) restricts the output to the last k rows <c>[1, k, 256]</c>. Weights are stored as raw little-endian data. The
/// bytes depend only on the weights, so equal weights give identical files.
/// </summary>
public static class DemoOnnxExporter
{
    /// <summary>ONNX opset the graph uses.</summary>
    public const int Opset = OnnxGraphWriter.Opset;

    private const string InputName = "input_ids";
    private const string OutputName = "logits";

    /// <summary>
    /// Name of the optional int64 scalar input (default 0) that limits the output to the last k positions, like
    /// Hugging Face's <c>logits_to_keep</c>: a caller that feeds <c>window-1+rows</c> tokens and
    /// <c>logits_to_keep = rows</c> pays for <c>rows</c> rows, not <c>window-1+rows</c>.
    /// </summary>
    public const string LogitsToKeepName = "logits_to_keep";

    /// <summary>Writes the ONNX model to <paramref name="stream"/>.</summary>
    public static void Export(DemoModelWeights weights, Stream stream)
    {
        ArgumentNullException.ThrowIfNull(weights);
        ArgumentNullException.ThrowIfNull(stream);
        BuildModel(weights).WriteTo(stream);
    }

    /// <summary>The ONNX model as bytes.</summary>
    public static byte[] ExportToBytes(DemoModelWeights weights)
    {
        ArgumentNullException.ThrowIfNull(weights);
        return BuildModel(weights).ToByteArray();
    }

    internal static ModelProto BuildModel(DemoModelWeights weights)
    {
        var config = weights.Config;
        var n = config.Window;
        var rows = DemoModelConfig.TableRows;
        var h0 = config.HiddenSizes[0];
        var builder = new OnnxGraphWriter(config.Name);

        // Node names follow their outputs ("<output>_node"): the exported bytes stay those of earlier versions.
        string Node(string opType, string[] inputs, string output, params AttributeProto[] attributes) =>
            builder.NamedNode(output + "_node", opType, inputs, output, attributes);

        builder.Input(InputName, Int64Type, 1L, "sequence");
        // Optional (an input with a default initializer): 0 = logits for every position, k > 0 = only the last k.
        builder.Input(LogitsToKeepName, Int64Type);
        builder.Int64(LogitsToKeepName, [0]);
        builder.Output(OutputName, FloatType, 1L, "rows", DemoModelConfig.VocabularySize);

        // Window ids [L, N]: gather from the ids left-padded with N-1 pad ids, at positions t + k.
        var ids = Node("Reshape", [InputName, builder.Int64("shape_flat", [-1], 1)], "ids");
        var padded = n > 1
            ? Node("Concat", [builder.Int64("pad_prefix", Enumerable.Repeat((long)DemoModelConfig.PadId, n - 1).ToArray(), n - 1), ids], "padded", Attribute("axis", 0))
            : ids;
        var lengthVector = Node("Shape", [ids], "length_vector");
        var length = Node("Squeeze", [lengthVector, builder.Int64("axis_0", [0], 1)], "length");
        var zero = builder.Int64("zero", [0]);
        var keepSome = Node("Greater", [LogitsToKeepName, zero], "keep_some");
        var keepClipped = Node("Min", [LogitsToKeepName, length], "keep_clipped");
        var rowCount = Node("Where", [keepSome, keepClipped, length], "row_count");
        var firstRow = Node("Sub", [length, rowCount], "first_row");
        var positions = Node("Range", [firstRow, length, builder.Int64("one", [1])], "positions");
        var column = Node("Unsqueeze", [positions, builder.Int64("axis_1", [1], 1)], "positions_column");
        var offsets = builder.Int64("window_offsets", Enumerable.Range(0, n).Select(k => (long)k).ToArray(), 1, n);
        var windowIndex = Node("Add", [column, offsets], "window_index");
        var window = Node("Gather", [padded, windowIndex], "window", Attribute("axis", 0));

        var table = builder.Weight("table", weights.Table, (long)n * rows, h0);
        string summed;
        if (config.FirstLayerExport == DemoFirstLayerExport.OneHotMatMul)
        {
            // Multiplying the whole one-hot window by the table reads every weight per call: memory-bound, like an LLM.
            var oneHot = Node(
                "OneHot",
                [window, builder.Int64("depth", [rows]), builder.Weight("one_hot_values", [0f, 1f], 2)],
                "one_hot",
                Attribute("axis", -1));
            var flat = Node("Reshape", [oneHot, builder.Int64("shape_one_hot", [-1, (long)n * rows], 2)], "one_hot_flat");
            summed = Node("MatMul", [flat, table], "table_sum");
        }
        else
        {
            var rowOffsets = builder.Int64("row_offsets", Enumerable.Range(0, n).Select(k => (long)k * rows).ToArray(), 1, n);
            var rowIndex = Node("Add", [window, rowOffsets], "row_index");
            var gathered = Node("Gather", [table, rowIndex], "table_rows", Attribute("axis", 0));
            summed = Node("ReduceSum", [gathered, builder.Int64("axis_1_sum", [1], 1)], "table_sum", Attribute("keepdims", 0));
        }

        var hidden = Node("Relu", [Node("Add", [summed, builder.Weight("table_bias", weights.TableBias, h0)], "layer0_pre")], "layer0");
        for (var l = 0; l < weights.Layers.Length; l++)
        {
            var layer = weights.Layers[l];
            var product = Node("MatMul", [hidden, builder.Weight($"dense{l}_w", layer.W, layer.Input, layer.Output)], $"dense{l}_product");
            var sum = Node("Add", [product, builder.Weight($"dense{l}_b", layer.B, layer.Output)], $"dense{l}_sum");
            hidden = l + 1 < weights.Layers.Length ? Node("Relu", [sum], $"dense{l}_relu") : sum;
        }

        Node("Unsqueeze", [hidden, builder.Int64("axis_0_out", [0], 1)], OutputName);

        var model = builder.ToModel(producerName: "specfn-demo");
        model.ProducerVersion = DemoModels.CodeVersion;
        model.DocString = $"SpecFunctions demo byte-level MLP LM '{config.Name}': window {n}, hidden {string.Join("-", config.HiddenSizes)}.";
        return model;
    }
}
