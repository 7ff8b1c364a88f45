using SpecFunctions.Demo;
using SpecFunctions.Training;

namespace SpecFunctions.Cli.Commands;

/// <summary>The built-in demo pairs: <c>mlp</c> (byte-level MLP window models) and <c>transformer</c> (GPT-style decoders, BPE).</summary>
internal static class PairKinds
{
    public const string Mlp = "mlp";
    public const string Transformer = "transformer";

    public static string[] All { get; } = [Mlp, Transformer];

    /// <summary>Default model root of a kind.</summary>
    public static string DefaultRoot(string kind) => kind == Transformer ? TransformerModels.DefaultRoot : DemoModels.DefaultRoot;
}
