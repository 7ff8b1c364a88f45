using Microsoft.Extensions.Logging;
using SpecFunctions.Core.Models;

namespace SpecFunctions.Demo.Hosting;

/// <summary>
/// A catalog that also knows the built-in demo pair as <c>demo-verifier</c> and <c>demo-drafter</c>: the pair is built
/// in <paramref name="folder"/> on first use (trained once, tens of seconds on 2 cores; reused while its content-hash
/// cache key matches), so a fresh local app evaluates the demo suite with no model paths to configure. Other names go to
/// <paramref name="inner"/>, which wins for the demo names too when it has them (a deployment's baked-in copy).
/// </summary>
public sealed class BuiltInDemoCatalog(IModelCatalog inner, string folder, ILogger logger) : IModelCatalog
{
    public const string Verifier = "demo-verifier";
    public const string Drafter = "demo-drafter";

    private readonly Lazy<DemoModelPaths> _pair = new(() =>
    {
        logger.LogInformation("Building the built-in demo model pair in {Folder} (reused when already built)", folder);
        var paths = DemoModels.EnsureAsync(folder).GetAwaiter().GetResult();
        logger.LogInformation(
            "Demo model pair ready in {Folder} ({How})", folder, paths.Reused ? "reused" : $"trained in {(paths.VerifierTrainingTime + paths.DrafterTrainingTime).TotalSeconds:F0} s");
        return paths;
    }, LazyThreadSafetyMode.ExecutionAndPublication);

    public bool IsKnown(string reference) => inner.IsKnown(reference) || reference is Verifier or Drafter;

    public string GetFolder(string reference) => inner.IsKnown(reference)
        ? inner.GetFolder(reference)
        : reference switch
        {
            Verifier => _pair.Value.VerifierDirectory,
            Drafter => _pair.Value.DrafterDirectory,
            _ => inner.GetFolder(reference),
        };
}
