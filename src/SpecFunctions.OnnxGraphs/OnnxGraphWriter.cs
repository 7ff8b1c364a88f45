using System.Runtime.InteropServices;
using Google.Protobuf;
using Onnx;

namespace SpecFunctions.OnnxGraphs;

/// <summary>A thin layer over OnnxSharp's protobuf messages for writing small graphs in code (weights as <c>raw_data</c>).</summary>
public sealed class OnnxGraphWriter
{
    private readonly GraphProto _graph;
    private int _counter;

    public OnnxGraphWriter(string name)
    {
        _graph = new GraphProto { Name = name };
    }

    public const int FloatType = (int)TensorProto.Types.DataType.Float;
    public const int Float16Type = (int)TensorProto.Types.DataType.Float16;
    public const int Int64Type = (int)TensorProto.Types.DataType.Int64;
    public const int BoolType = (int)TensorProto.Types.DataType.Bool;

    /// <summary>Adds a float32 initializer and returns its name.</summary>
    public string Weight(string name, ReadOnlySpan<float> data, params long[] dims) =>
        Initializer(name, FloatType, MemoryMarshal.AsBytes(data), dims);

    /// <summary>Adds a float16 initializer (the values rounded to half precision) and returns its name.</summary>
    public string WeightHalf(string name, ReadOnlySpan<float> data, params long[] dims)
    {
        var half = new Half[data.Length];
        for (var i = 0; i < data.Length; i++)
        {
            half[i] = (Half)data[i];
        }

        return Initializer(name, Float16Type, MemoryMarshal.AsBytes(half.AsSpan()), dims);
    }

    /// <summary>A 0-d float16 constant.</summary>
    public string ScalarHalf(float value) => WeightHalf($"const_{_counter++}", [value]);

    /// <summary>Adds an int64 initializer and returns its name.</summary>
    public string Int64(string name, ReadOnlySpan<long> data, params long[] dims) =>
        Initializer(name, Int64Type, MemoryMarshal.AsBytes(data), dims);

    /// <summary>A 0-d int64 constant.</summary>
    public string Scalar(long value) => Int64($"const_{_counter++}", [value]);

    /// <summary>A 0-d float constant.</summary>
    public string Scalar(float value) => Weight($"const_{_counter++}", [value]);

    /// <summary>A 1-d int64 constant.</summary>
    public string Vector(params long[] values) => Int64($"const_{_counter++}", values, values.Length);

    /// <summary>Adds a node with one output and returns the output's name.</summary>
    public string Node(string opType, string[] inputs, params AttributeProto[] attributes) => Node(opType, inputs, $"{opType.ToLowerInvariant()}_{_counter++}", attributes);

    /// <summary>Adds a node whose single output has the given name.</summary>
    public string Node(string opType, string[] inputs, string output, params AttributeProto[] attributes) =>
        NamedNode($"n{_counter++}_{opType}", opType, inputs, output, attributes);

    /// <summary>Adds a node named <paramref name="nodeName"/> whose single output has the given name.</summary>
    public string NamedNode(string nodeName, string opType, string[] inputs, string output, params AttributeProto[] attributes)
    {
        var node = new NodeProto { OpType = opType, Name = nodeName };
        node.Input.AddRange(inputs);
        node.Output.Add(output);
        node.Attribute.AddRange(attributes);
        _graph.Node.Add(node);
        return output;
    }

    /// <summary>A graph input; each dimension is a <see cref="long"/> size or a <see cref="string"/> symbolic name.</summary>
    public string Input(string name, int elementType, params object[] dims)
    {
        _graph.Input.Add(ValueInfo(name, elementType, dims));
        return name;
    }

    /// <summary>A graph output; each dimension is a <see cref="long"/> size or a <see cref="string"/> symbolic name.</summary>
    public void Output(string name, int elementType, params object[] dims) => _graph.Output.Add(ValueInfo(name, elementType, dims));

    public static AttributeProto Attribute(string name, long value) =>
        new() { Name = name, Type = AttributeProto.Types.AttributeType.Int, I = value };

    public static AttributeProto Attribute(string name, float value) =>
        new() { Name = name, Type = AttributeProto.Types.AttributeType.Float, F = value };

    public static AttributeProto Attribute(string name, params long[] values)
    {
        var attribute = new AttributeProto { Name = name, Type = AttributeProto.Types.AttributeType.Ints };
        attribute.Ints.AddRange(values);
        return attribute;
    }

    /// <summary>The default-domain opset of <see cref="ToModel"/>.</summary>
    public const int Opset = 17;

    /// <summary>The finished model (IR 8, default-domain opset <see cref="Opset"/>).</summary>
    /// <param name="producerName">The model's <c>producer_name</c>. The default is the writer's old namespace, kept so
    /// that exported files (and the pair caches keyed on their code version) stay byte-identical.</param>
    public ModelProto ToModel(string producerName = "SpecFunctions.Onnx.Testing")
    {
        var model = new ModelProto { IrVersion = 8, ProducerName = producerName, Graph = _graph };
        model.OpsetImport.Add(new OperatorSetIdProto { Domain = string.Empty, Version = Opset });
        return model;
    }

    /// <summary>
    /// Moves every initializer of at least <paramref name="minBytes"/> out of <paramref name="model"/> into the file
    /// <paramref name="dataFile"/> beside the ONNX file (ONNX external data: <c>location</c>, <c>offset</c>, <c>length</c>,
    /// 64-byte aligned), as exporters do for models past protobuf's 2 GB limit. Returns the bytes moved.
    /// </summary>
    public static long MoveToExternalData(ModelProto model, string folder, string dataFile, int minBytes = 1024)
    {
        ArgumentNullException.ThrowIfNull(model);
        using var stream = File.Create(Path.Combine(folder, dataFile));
        long offset = 0;
        foreach (var tensor in model.Graph.Initializer)
        {
            if (tensor.RawData.Length < minBytes)
            {
                continue;
            }

            var padding = (int)((64 - (offset % 64)) % 64);
            stream.Write(new byte[padding]);
            offset += padding;
            tensor.RawData.WriteTo(stream);
            tensor.DataLocation = TensorProto.Types.DataLocation.External;
            tensor.ExternalData.Add(new StringStringEntryProto { Key = "location", Value = dataFile });
            tensor.ExternalData.Add(new StringStringEntryProto { Key = "offset", Value = offset.ToString(System.Globalization.CultureInfo.InvariantCulture) });
            tensor.ExternalData.Add(new StringStringEntryProto { Key = "length", Value = tensor.RawData.Length.ToString(System.Globalization.CultureInfo.InvariantCulture) });
            offset += tensor.RawData.Length;
            tensor.RawData = ByteString.Empty;
        }

        return offset;
    }

    private string Initializer(string name, int dataType, ReadOnlySpan<byte> bytes, long[] dims)
    {
        var tensor = new TensorProto { Name = name, DataType = dataType, RawData = ByteString.CopyFrom(bytes) };
        tensor.Dims.AddRange(dims);
        _graph.Initializer.Add(tensor);
        return name;
    }

    private static ValueInfoProto ValueInfo(string name, int elementType, object[] dims)
    {
        var shape = new TensorShapeProto();
        foreach (var dim in dims)
        {
            shape.Dim.Add(dim switch
            {
                string symbol => new TensorShapeProto.Types.Dimension { DimParam = symbol },
                int size => new TensorShapeProto.Types.Dimension { DimValue = size },
                long size => new TensorShapeProto.Types.Dimension { DimValue = size },
                _ => throw new ArgumentException($"dimension {dim} must be a size or a symbolic name", nameof(dims)),
            });
        }

        return new ValueInfoProto
        {
            Name = name,
            Type = new TypeProto { TensorType = new TypeProto.Types.Tensor { ElemType = elementType, Shape = shape } },
        };
    }
}
