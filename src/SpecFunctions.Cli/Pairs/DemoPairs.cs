namespace SpecFunctions.Cli.Pairs;

/// <summary>The built-in demo pairs, in the order the help lists them: the only place in the CLI that knows both families.</summary>
internal static class DemoPairs
{
    /// <summary>The byte-level MLP pair (the default).</summary>
    public static IDemoPair Mlp { get; } = new MlpPair();

    /// <summary>The transformer pair.</summary>
    public static IDemoPair Transformer { get; } = new TransformerPair();

    /// <summary>Every pair.</summary>
    public static IReadOnlyList<IDemoPair> All { get; } = [Mlp, Transformer];

    /// <summary>Every <see cref="IDemoPair.Kind"/>, for <c>AcceptOnlyFromAmong</c>.</summary>
    public static string[] Kinds { get; } = [.. All.Select(p => p.Kind)];

    /// <summary>The pair of <paramref name="kind"/> (one of <see cref="Kinds"/>: the option parser refuses others).</summary>
    public static IDemoPair Get(string kind) =>
        All.FirstOrDefault(p => p.Kind == kind) ?? throw new ArgumentException($"unknown demo pair '{kind}' (known: {string.Join(", ", Kinds)})", nameof(kind));

    /// <summary>The pair a run of <c>specfn audit</c> evaluated, by the catalog names of its models; null for other runs.</summary>
    public static IDemoPair? ForModels(string verifier, string drafter) =>
        All.FirstOrDefault(p => p.VerifierName == verifier && p.DrafterName == drafter);
}
