using System.ComponentModel.DataAnnotations;

namespace SpecFunctions.Functions.Hosting;

/// <summary>Where models are found (configuration section <see cref="SectionName"/>).</summary>
public sealed class ModelCatalogOptions : IValidatableObject
{
    public const string SectionName = "Models";

    /// <summary>
    /// Folder whose subfolders (each with a <c>specfn-model.json</c>, or an export's <c>genai_config.json</c> / optimum
    /// <c>config.json</c>) are models addressed by folder name; relative paths are resolved against the app folder. Default none.
    /// </summary>
    public string? Root { get; set; }

    /// <summary>
    /// Explicit references, name → model folder (e.g. <c>demo-verifier</c> → <c>/models/demo-verifier</c>); relative
    /// folders are resolved against the app folder. Default none.
    /// </summary>
    public Dictionary<string, string> Aliases { get; set; } = new(StringComparer.Ordinal);

    /// <summary>
    /// Offer the built-in demo pair as <c>demo-verifier</c> / <c>demo-drafter</c>, built on first use (tens of seconds on
    /// 2 cores, once) in <see cref="DemoFolder"/>. For local runs; a deployment ships its models. Default false.
    /// </summary>
    public bool BuiltInDemo { get; set; }

    /// <summary>Where the built-in demo pair is built and cached. Default: <c>specfn-demo-models</c> under the system temp folder.</summary>
    public string? DemoFolder { get; set; }

    /// <summary>An alias without a folder would resolve to the app folder itself; it stops the app at start-up instead.</summary>
    IEnumerable<ValidationResult> IValidatableObject.Validate(ValidationContext validationContext) => Aliases
        .Where(a => string.IsNullOrWhiteSpace(a.Value))
        .Select(a => new ValidationResult($"{SectionName}:Aliases:{a.Key} must name a model folder", [nameof(Aliases)]));
}
