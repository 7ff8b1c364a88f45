using Onnx;
using SpecFunctions.Core.Models;
using SpecFunctions.OnnxGraphs;
using static SpecFunctions.OnnxGraphs.OnnxGraphWriter;

namespace SpecFunctions.TestKit;

/// <summary>
/// A stateless window model: embedding → causal 1-D convolution over <c>window</c> tokens (zero-padded on the left) → tanh →
/// linear head. Signature <c>input_ids</c> int64 <c>[1, L]</c> → <c>logits</c> float32 <c>[1, L, V]</c>.
/// </summary>
public static class TinyWindowModelBuilder
{
    /// <param name="vocabularySize">Logits per position. Default 260.</param>
    /// <param name="window">Receptive field in tokens. Default 8.</param>
    /// <param name="dim">Embedding width. Default 16.</param>
    /// <param name="seed">Seed of the random weights.</param>
    public static ModelProto Build(int vocabularySize = 260, int window = 8, int dim = 16, int seed = 1)
    {
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(vocabularySize);
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(window);
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(dim);
        var random = new Random(seed);
        float[] Uniform(int count, float scale) => [.. Enumerable.Range(0, count).Select(_ => scale * (float)((random.NextDouble() * 2) - 1))];

        var g = new OnnxGraphWriter("tiny_window");
        var ids = g.Input("input_ids", Int64Type, 1L, "sequence");
        var embedded = g.Node("Gather", [g.Weight("embedding", Uniform(vocabularySize * dim, 1f), vocabularySize, dim), ids]);
        var channels = g.Node("Transpose", [embedded], Attribute("perm", 0, 2, 1));
        var convolved = g.Node("Conv", [channels, g.Weight("conv.weight", Uniform(dim * dim * window, 1f / MathF.Sqrt(dim * window)), dim, dim, window), g.Weight("conv.bias", Uniform(dim, 0.1f), dim)],
            Attribute("kernel_shape", [(long)window]), Attribute("pads", window - 1, 0));
        var hidden = g.Node("Tanh", [g.Node("Transpose", [convolved], Attribute("perm", 0, 2, 1))]);
        g.Node("Add", [g.Node("MatMul", [hidden, g.Weight("head", Uniform(dim * vocabularySize, 3f / MathF.Sqrt(dim)), dim, vocabularySize)]), g.Weight("head.bias", Uniform(vocabularySize, 0.1f), vocabularySize)], "logits");
        g.Output("logits", FloatType, 1L, "sequence", (long)vocabularySize);
        return g.ToModel();
    }

    /// <summary>Writes a stateless model folder with the byte tokenizer and returns the folder.</summary>
    public static string WriteModelFolder(string folder, int window = 8, int seed = 1, string name = "tiny-window", int contextLength = 4096)
    {
        const int vocabularySize = 260;
        var manifest = new ModelManifest
        {
            Name = name,
            Family = "specfn-tiny",
            VocabularySize = vocabularySize,
            Tokenizer = "byte",
            BosTokenId = 256,
            EosTokenIds = [257],
            ContextLength = contextLength,
            Format = ModelManifest.StatelessFormat,
            Window = window,
        };
        return TinyTransformerBuilder.WriteModelFolder(folder, Build(vocabularySize, window, seed: seed), manifest);
    }
}
