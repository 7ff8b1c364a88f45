using System.Runtime.InteropServices;
using Google.Protobuf;
using Onnx;

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
    public const int Opset = 17;

    private const long IrVersion = 8;
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
        var graph = new GraphProto { Name = config.Name };
        var builder = new GraphBuilder(graph);

        graph.Input.Add(TensorValueInfo(InputName, TensorProto.Types.DataType.Int64, "batch_1", "sequence"));
        // Optional (an input with a default initializer): 0 = logits for every position, k > 0 = only the last k.
        graph.Input.Add(TensorValueInfo(LogitsToKeepName, TensorProto.Types.DataType.Int64));
        builder.Int64(LogitsToKeepName, [0], []);
        graph.Output.Add(TensorValueInfo(OutputName, TensorProto.Types.DataType.Float, "batch_1", "rows", DemoModelConfig.VocabularySize));

        // Window ids [L, N]: gather from the ids left-padded with N-1 pad ids, at positions t + k.
        var ids = builder.Node("Reshape", [InputName, builder.Int64("shape_flat", [-1], [1])], "ids");
        var padded = n > 1
            ? builder.Node("Concat", [builder.Int64("pad_prefix", Enumerable.Repeat((long)DemoModelConfig.PadId, n - 1).ToArray(), [n - 1]), ids], "padded", Attribute("axis", 0))
            : ids;
        var lengthVector = builder.Node("Shape", [ids], "length_vector");
        var length = builder.Node("Squeeze", [lengthVector, builder.Int64("axis_0", [0], [1])], "length");
        var zero = builder.Int64("zero", [0], []);
        var keepSome = builder.Node("Greater", [LogitsToKeepName, zero], "keep_some");
        var keepClipped = builder.Node("Min", [LogitsToKeepName, length], "keep_clipped");
        var rowCount = builder.Node("Where", [keepSome, keepClipped, length], "row_count");
        var firstRow = builder.Node("Sub", [length, rowCount], "first_row");
        var positions = builder.Node("Range", [firstRow, length, builder.Int64("one", [1], [])], "positions");
        var column = builder.Node("Unsqueeze", [positions, builder.Int64("axis_1", [1], [1])], "positions_column");
        var offsets = builder.Int64("window_offsets", Enumerable.Range(0, n).Select(k => (long)k).ToArray(), [1, n]);
        var windowIndex = builder.Node("Add", [column, offsets], "window_index");
        var window = builder.Node("Gather", [padded, windowIndex], "window", Attribute("axis", 0));

        var table = builder.Float("table", weights.Table, [(long)n * rows, h0]);
        string summed;
        if (config.FirstLayerExport == DemoFirstLayerExport.OneHotMatMul)
        {
            // Multiplying the whole one-hot window by the table reads every weight per call: memory-bound, like an LLM.
            var oneHot = builder.Node(
                "OneHot",
                [window, builder.Int64("depth", [rows], []), builder.Float("one_hot_values", [0f, 1f], [2])],
                "one_hot",
                Attribute("axis", -1));
            var flat = builder.Node("Reshape", [oneHot, builder.Int64("shape_one_hot", [-1, (long)n * rows], [2])], "one_hot_flat");
            summed = builder.Node("MatMul", [flat, table], "table_sum");
        }
        else
        {
            var rowOffsets = builder.Int64("row_offsets", Enumerable.Range(0, n).Select(k => (long)k * rows).ToArray(), [1, n]);
            var rowIndex = builder.Node("Add", [window, rowOffsets], "row_index");
            var gathered = builder.Node("Gather", [table, rowIndex], "table_rows", Attribute("axis", 0));
            summed = builder.Node("ReduceSum", [gathered, builder.Int64("axis_1_sum", [1], [1])], "table_sum", Attribute("keepdims", 0));
        }

        var hidden = builder.Node("Relu", [builder.Node("Add", [summed, builder.Float("table_bias", weights.TableBias, [h0])], "layer0_pre")], "layer0");
        for (var l = 0; l < weights.Layers.Length; l++)
        {
            var layer = weights.Layers[l];
            var product = builder.Node("MatMul", [hidden, builder.Float($"dense{l}_w", layer.W, [layer.Input, layer.Output])], $"dense{l}_product");
            var sum = builder.Node("Add", [product, builder.Float($"dense{l}_b", layer.B, [layer.Output])], $"dense{l}_sum");
            hidden = l + 1 < weights.Layers.Length ? builder.Node("Relu", [sum], $"dense{l}_relu") : sum;
        }

        builder.Node("Unsqueeze", [hidden, builder.Int64("axis_0_out", [0], [1])], OutputName);

        var model = new ModelProto
        {
            IrVersion = IrVersion,
            ProducerName = "specfn-demo",
            ProducerVersion = DemoModels.CodeVersion,
            DocString = $"SpecFunctions demo byte-level MLP LM '{config.Name}': window {n}, hidden {string.Join("-", config.HiddenSizes)}.",
            Graph = graph,
        };
        model.OpsetImport.Add(new OperatorSetIdProto { Domain = "", Version = Opset });
        return model;
    }

    private static ValueInfoProto TensorValueInfo(string name, TensorProto.Types.DataType type, params object[] dims)
    {
        var shape = new TensorShapeProto();
        foreach (var dim in dims)
        {
            shape.Dim.Add(dim switch
            {
                int value => new TensorShapeProto.Types.Dimension { DimValue = value },
                "batch_1" => new TensorShapeProto.Types.Dimension { DimValue = 1 },
                string param => new TensorShapeProto.Types.Dimension { DimParam = param },
                _ => throw new ArgumentException($"Unsupported dimension {dim}."),
            });
        }

        return new ValueInfoProto
        {
            Name = name,
            Type = new TypeProto { TensorType = new TypeProto.Types.Tensor { ElemType = (int)type, Shape = shape } },
        };
    }

    private static AttributeProto Attribute(string name, long value) =>
        new() { Name = name, Type = AttributeProto.Types.AttributeType.Int, I = value };

    private sealed class GraphBuilder(GraphProto graph)
    {
        public string Node(string opType, string[] inputs, string output, params AttributeProto[] attributes)
        {
            var node = new NodeProto { OpType = opType, Name = output + "_node" };
            node.Input.AddRange(inputs);
            node.Output.Add(output);
            node.Attribute.AddRange(attributes);
            graph.Node.Add(node);
            return output;
        }

        public string Int64(string name, long[] values, long[] dims)
        {
            var tensor = new TensorProto { Name = name, DataType = (int)TensorProto.Types.DataType.Int64 };
            tensor.Dims.AddRange(dims);
            tensor.RawData = ByteString.CopyFrom(MemoryMarshal.AsBytes(values.AsSpan()));
            graph.Initializer.Add(tensor);
            return name;
        }

        public string Float(string name, float[] values, long[] dims)
        {
            var tensor = new TensorProto { Name = name, DataType = (int)TensorProto.Types.DataType.Float };
            tensor.Dims.AddRange(dims);
            tensor.RawData = ByteString.CopyFrom(MemoryMarshal.AsBytes(values.AsSpan()));
            graph.Initializer.Add(tensor);
            return name;
        }
    }
}
