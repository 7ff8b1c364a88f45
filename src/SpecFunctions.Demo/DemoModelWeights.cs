using System.Buffers.Binary;
using System.Runtime.InteropServices;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using SpecFunctions.Core.Sampling;

namespace SpecFunctions.Demo;

/// <summary>
/// The parameters of a demo model: the byte table of layer 1 and the dense layers. Serialisable
/// (<see cref="Save(Stream)"/> / <see cref="Load(Stream)"/>) so that a drafter version can be stored and reloaded, and
/// exportable to ONNX (<see cref="DemoOnnxExporter"/>).
/// </summary>
public sealed class DemoModelWeights
{
    /// <summary>File name of the weights inside a demo model folder.</summary>
    public const string FileName = "weights.bin";

    private static ReadOnlySpan<byte> Magic => "SFDW"u8;
    private const int FormatVersion = 1;

    internal DemoModelWeights(DemoModelConfig config)
    {
        config.Validate();
        Config = config;
        var h0 = config.HiddenSizes[0];
        Table = new float[config.Window * DemoModelConfig.TableRows * h0];
        TableBias = new float[h0];
        Layers = new DenseLayer[config.HiddenSizes.Count];
        for (var l = 0; l < Layers.Length; l++)
        {
            var input = config.HiddenSizes[l];
            var output = l + 1 < config.HiddenSizes.Count ? config.HiddenSizes[l + 1] : DemoModelConfig.VocabularySize;
            Layers[l] = new DenseLayer(input, output);
        }
    }

    /// <summary>The model's shape.</summary>
    public DemoModelConfig Config { get; }

    /// <summary>Layer 1: row <c>k * 257 + b</c> (window position k, 0 = oldest, byte or pad b), width HiddenSizes[0].</summary>
    internal float[] Table { get; }

    internal float[] TableBias { get; }

    /// <summary>Dense layers; all but the last are followed by ReLU, the last gives the 256 logits.</summary>
    internal DenseLayer[] Layers { get; }

    /// <summary>Size of the parameters as float32, in bytes.</summary>
    public long SizeInBytes => Config.ParameterCount * sizeof(float);

    /// <summary>Random initial weights (He-style), deterministic for <paramref name="seed"/>.</summary>
    public static DemoModelWeights CreateInitial(DemoModelConfig config, int seed)
    {
        var weights = new DemoModelWeights(config);
        var random = new DeterministicRandom(0xDE3D0000UL ^ (ulong)(uint)seed);

        // Exactly Window table rows are active per position, so this scale gives unit-variance pre-activations.
        var tableStd = 1.0 / Math.Sqrt(config.Window);
        Fill(weights.Table, random, tableStd);
        for (var l = 0; l < weights.Layers.Length; l++)
        {
            var layer = weights.Layers[l];
            var last = l == weights.Layers.Length - 1;
            Fill(layer.W, random, Math.Sqrt((last ? 1.0 : 2.0) / layer.Input));
        }

        return weights;
    }

    /// <summary>A deep copy.</summary>
    public DemoModelWeights Clone()
    {
        var copy = new DemoModelWeights(Config);
        Table.CopyTo(copy.Table, 0);
        TableBias.CopyTo(copy.TableBias, 0);
        for (var l = 0; l < Layers.Length; l++)
        {
            Layers[l].W.CopyTo(copy.Layers[l].W, 0);
            Layers[l].B.CopyTo(copy.Layers[l].B, 0);
        }

        return copy;
    }

    /// <summary>Writes the config and all parameters (little-endian float32).</summary>
    public void Save(Stream stream)
    {
        ArgumentNullException.ThrowIfNull(stream);
        EnsureLittleEndian();
        var configJson = JsonSerializer.SerializeToUtf8Bytes(Config);
        Span<byte> header = stackalloc byte[12];
        Magic.CopyTo(header);
        BinaryPrimitives.WriteInt32LittleEndian(header[4..], FormatVersion);
        BinaryPrimitives.WriteInt32LittleEndian(header[8..], configJson.Length);
        stream.Write(header);
        stream.Write(configJson);
        foreach (var array in Arrays())
        {
            WriteFloats(stream, array);
        }
    }

    /// <summary>Saves to <paramref name="path"/>.</summary>
    public void Save(string path)
    {
        using var stream = File.Create(path);
        Save(stream);
    }

    /// <summary>Reads weights written by <see cref="Save(Stream)"/>.</summary>
    /// <exception cref="InvalidDataException">The stream is not a demo weights file or is truncated.</exception>
    public static DemoModelWeights Load(Stream stream)
    {
        ArgumentNullException.ThrowIfNull(stream);
        EnsureLittleEndian();
        Span<byte> header = stackalloc byte[12];
        ReadExactly(stream, header, "header");
        if (!header[..4].SequenceEqual(Magic))
        {
            throw new InvalidDataException("Not a demo model weights file (bad magic).");
        }

        var version = BinaryPrimitives.ReadInt32LittleEndian(header[4..]);
        if (version != FormatVersion)
        {
            throw new InvalidDataException($"Demo model weights format version {version} is not supported (expected {FormatVersion}).");
        }

        var configLength = BinaryPrimitives.ReadInt32LittleEndian(header[8..]);
        if (configLength is <= 0 or > 1 << 20)
        {
            throw new InvalidDataException($"Demo model weights file has a bad config length {configLength}.");
        }

        var configJson = new byte[configLength];
        ReadExactly(stream, configJson, "config");
        var config = JsonSerializer.Deserialize<DemoModelConfig>(configJson)
            ?? throw new InvalidDataException("Demo model weights file has an empty config.");
        var weights = new DemoModelWeights(config);
        foreach (var array in weights.Arrays())
        {
            ReadExactly(stream, MemoryMarshal.AsBytes(array.AsSpan()), "parameters");
        }

        return weights;
    }

    /// <summary>Loads from <paramref name="path"/>.</summary>
    public static DemoModelWeights Load(string path)
    {
        using var stream = File.OpenRead(path);
        return Load(stream);
    }

    /// <summary>SHA-256 of the saved form, hex: identifies a weights version.</summary>
    public string ComputeHash()
    {
        using var buffer = new MemoryStream();
        Save(buffer);
        return Convert.ToHexStringLower(SHA256.HashData(buffer.ToArray()));
    }

    internal IEnumerable<float[]> Arrays()
    {
        yield return Table;
        yield return TableBias;
        foreach (var layer in Layers)
        {
            yield return layer.W;
            yield return layer.B;
        }
    }

    private static void Fill(float[] array, DeterministicRandom random, double std)
    {
        for (var i = 0; i < array.Length; i++)
        {
            array[i] = (float)(random.NextGaussian() * std);
        }
    }

    private static void EnsureLittleEndian()
    {
        // The file is raw little-endian float32, the same bytes as the ONNX RawData.
        if (!BitConverter.IsLittleEndian)
        {
            throw new PlatformNotSupportedException("Demo model weights need a little-endian machine.");
        }
    }

    private static void WriteFloats(Stream stream, float[] array)
    {
        stream.Write(MemoryMarshal.AsBytes(array.AsSpan()));
    }

    private static void ReadExactly(Stream stream, Span<byte> buffer, string what)
    {
        try
        {
            stream.ReadExactly(buffer);
        }
        catch (EndOfStreamException e)
        {
            throw new InvalidDataException($"Demo model weights file is truncated (in the {what}).", e);
        }
    }

    internal static string Describe(DemoModelConfig config) =>
        Encoding.UTF8.GetString(JsonSerializer.SerializeToUtf8Bytes(config));
}

/// <summary>A dense layer: <c>y = x W + b</c>, W row-major <c>[Input, Output]</c>.</summary>
internal sealed class DenseLayer(int input, int output)
{
    public int Input { get; } = input;

    public int Output { get; } = output;

    public float[] W { get; } = new float[input * output];

    public float[] B { get; } = new float[output];
}
