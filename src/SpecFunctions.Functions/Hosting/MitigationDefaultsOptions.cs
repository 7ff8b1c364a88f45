using System.ComponentModel.DataAnnotations;
using System.Globalization;
using Microsoft.Extensions.Configuration;
using SpecFunctions.Core.Evaluation;

namespace SpecFunctions.Functions.Hosting;

/// <summary>
/// The mitigation thresholds a submission (or a registered audit suite) gets when its <c>mitigation</c> leaves them
/// out (section <see cref="SectionName"/>): <c>Mitigation:UnfairnessThreshold</c> / <c>Mitigation:SpeedupGapThreshold</c>,
/// or the names the Bicep sets, <see cref="UnfairnessThresholdInfraSetting"/> / <see cref="SpeedupGapThresholdInfraSetting"/>;
/// else <see cref="MitigationPolicy"/>'s. A value that is not a number ≥ 0 stops the app at start-up.
/// </summary>
public sealed class MitigationDefaultsOptions : IValidatableObject
{
    public const string SectionName = "Mitigation";

    /// <summary>The app setting infra/modules/functionApp.bicep sets for <see cref="UnfairnessThreshold"/>.</summary>
    public const string UnfairnessThresholdInfraSetting = "FAIRNESS_UNFAIRNESS_THRESHOLD";

    /// <summary>The app setting infra/modules/functionApp.bicep sets for <see cref="SpeedupGapThreshold"/>.</summary>
    public const string SpeedupGapThresholdInfraSetting = "FAIRNESS_SPEEDUP_GAP_THRESHOLD";

    private static readonly MitigationPolicy Defaults = new();

    // Infra settings that are no number, reported by Validate with the other problems (the binder does not read them).
    private readonly List<ValidationResult> _unreadable = [];

    /// <summary>Fairness threshold, nats² (<see cref="MitigationPolicy.UnfairnessThreshold"/>). Default 0.05.</summary>
    public double UnfairnessThreshold { get; set; } = Defaults.UnfairnessThreshold;

    /// <summary>Speed-up gap threshold (<see cref="MitigationPolicy.SpeedupGapThreshold"/>). Default 0.25.</summary>
    public double SpeedupGapThreshold { get; set; } = Defaults.SpeedupGapThreshold;

    /// <summary>The policy of a submission without <c>mitigation</c>, and the value of every field its <c>mitigation</c> omits.</summary>
    public MitigationPolicy ToPolicy() => Defaults with { UnfairnessThreshold = UnfairnessThreshold, SpeedupGapThreshold = SpeedupGapThreshold };

    /// <summary>
    /// Reads the infra names where the section leaves a threshold out (runs before the section is bound); a blank value
    /// counts as absent.
    /// </summary>
    public void ReadInfraSettings(IConfiguration configuration)
    {
        ArgumentNullException.ThrowIfNull(configuration);
        UnfairnessThreshold = Read(configuration, nameof(UnfairnessThreshold), UnfairnessThresholdInfraSetting) ?? UnfairnessThreshold;
        SpeedupGapThreshold = Read(configuration, nameof(SpeedupGapThreshold), SpeedupGapThresholdInfraSetting) ?? SpeedupGapThreshold;
    }

    IEnumerable<ValidationResult> IValidatableObject.Validate(ValidationContext validationContext)
    {
        foreach (var problem in _unreadable)
        {
            yield return problem;
        }

        if (!IsThreshold(UnfairnessThreshold))
        {
            yield return Problem(nameof(UnfairnessThreshold), UnfairnessThresholdInfraSetting, UnfairnessThreshold.ToString(CultureInfo.InvariantCulture));
        }

        if (!IsThreshold(SpeedupGapThreshold))
        {
            yield return Problem(nameof(SpeedupGapThreshold), SpeedupGapThresholdInfraSetting, SpeedupGapThreshold.ToString(CultureInfo.InvariantCulture));
        }
    }

    private double? Read(IConfiguration configuration, string name, string infraName)
    {
        var text = configuration[infraName];
        if (string.IsNullOrWhiteSpace(text) || configuration[$"{SectionName}:{name}"] is not null)
        {
            return null;
        }

        if (double.TryParse(text, NumberStyles.Float, CultureInfo.InvariantCulture, out var value))
        {
            return value;
        }

        _unreadable.Add(Problem(name, infraName, text));
        return null;
    }

    private static bool IsThreshold(double value) => value >= 0 && double.IsFinite(value);

    private static ValidationResult Problem(string name, string infraName, string text) =>
        new($"{SectionName}:{name} ({infraName}) must be a number ≥ 0 such as 0.05, not '{text}'", [name]);
}
