using SpecFunctions.Demo;

namespace SpecFunctions.Cli.Pairs;

/// <summary>
/// A built-in demo pair as the CLI offers it (<c>audit --pair</c>, <c>models demo --kind</c>, <c>mitigate</c> on an
/// audit's run). The commands choose a pair through <see cref="DemoPairs"/>, never by comparing names, so a new family is
/// one more implementation here.
/// </summary>
internal interface IDemoPair
{
    /// <summary>The value of <c>--pair</c> and <c>--kind</c>.</summary>
    string Kind { get; }

    /// <summary>Root folder of the pair when none is given, relative to the working directory.</summary>
    string DefaultRoot { get; }

    /// <summary>Catalog name of the verifier in runs of <c>specfn audit</c> (how <c>mitigate</c> recognises the pair).</summary>
    string VerifierName { get; }

    /// <summary>Catalog name of the drafter in runs of <c>specfn audit</c>.</summary>
    string DrafterName { get; }

    /// <summary>Held-out prompts per language an audit evaluates unless told otherwise.</summary>
    int DefaultPromptsPerTask { get; }

    /// <summary>The first line of <c>models demo</c>: what is built, before "(seed N) in DIR".</summary>
    string Title { get; }

    /// <summary>One line of <c>models demo</c> for a training progress report.</summary>
    string ProgressLine(DemoTrainingProgress progress);

    /// <summary>Builds the pair under <paramref name="root"/>, or reuses it when it is there for the same inputs.</summary>
    Task<DemoPairFolders> EnsureAsync(string root, int seed, IProgress<DemoTrainingProgress>? progress, CancellationToken cancellationToken);
}

/// <summary>Where <see cref="IDemoPair.EnsureAsync"/> put a pair, and the lines the commands print about it.</summary>
/// <param name="VerifierDirectory">The verifier's model folder.</param>
/// <param name="DrafterDirectory">The drafter's model folder.</param>
/// <param name="CacheKey">The pair's cache key (hex).</param>
/// <param name="Reused">True when nothing was trained.</param>
/// <param name="Trained">What <c>models demo</c> says was trained (times).</param>
/// <param name="AuditTrained">What <c>audit</c> says was trained (one indented line).</param>
/// <param name="VerifierLine">How <c>models demo</c> names the verifier folder.</param>
/// <param name="DrafterLine">How <c>models demo</c> names the drafter folder.</param>
internal sealed record DemoPairFolders(
    string VerifierDirectory, string DrafterDirectory, string CacheKey, bool Reused, string Trained, string AuditTrained, string VerifierLine, string DrafterLine);
