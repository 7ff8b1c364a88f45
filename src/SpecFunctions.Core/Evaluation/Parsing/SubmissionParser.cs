using System.Text.Json;
using SpecFunctions.Core.Storage;

namespace SpecFunctions.Core.Evaluation;

/// <summary>
/// An evaluation submission (the HTTP body): run id, suite (through <see cref="SuiteParser"/>), the two models, the
/// decoding settings and the mitigation policy, each omitted field taking its default.
/// </summary>
/// <param name="limits">Size limits of one submission.</param>
/// <param name="suites">Reads the <c>suite</c>.</param>
/// <param name="isKnownModel">Whether the model catalog resolves a model reference.</param>
/// <param name="newRunId">Makes a run id when the submission has none; called only for a valid submission.</param>
/// <param name="mitigationDefaults">The policy of a submission without <c>mitigation</c>, and the value of every field its <c>mitigation</c> omits.</param>
internal sealed class SubmissionParser(
    EvaluationLimits limits, SuiteParser suites, Func<string, bool> isKnownModel, Func<string> newRunId, MitigationPolicy mitigationDefaults)
{
    private static readonly string[] RequestFields = ["runId", "suite", "verifier", "drafter", "settings", "mitigation"];
    private static readonly string[] SettingsFields = ["gamma", "temperature", "topK", "topP", "maxNewTokens", "seed", "ignoreEos", "repeats", "promptsPerShard"];
    private static readonly string[] MitigationFields = ["unfairnessThreshold", "speedupGapThreshold", "autoMitigate", "strategy", "speedupMargin", "meanSpeedupTolerance"];

    /// <summary>The submission at <paramref name="element"/> (the document's root), or null when <paramref name="w"/> has recorded any error.</summary>
    public EvaluationRequest? Parse(StrictJsonWalker w, JsonElement element)
    {
        var root = w.Object(element, "", RequestFields);
        if (root is null)
        {
            return null;
        }

        string? runId = null;
        if (root.TryGetValue("runId", out var runIdElement))
        {
            runId = w.String(runIdElement, "runId");
            if (runId is not null && !StoreIds.IsValid(runId))
            {
                w.Error("runId", $"{StrictJsonWalker.Quote(runId)} is not a valid id: {SuiteParser.IdRule}");
            }
        }

        var suite = w.Required(root, "", "suite", (e, p) => suites.Parse(w, e, p, promptsFiles: null));
        var verifier = w.Required(root, "", "verifier", (e, p) => Model(w, e, p));
        var drafter = w.Required(root, "", "drafter", (e, p) => Model(w, e, p));
        var settings = root.TryGetValue("settings", out var s) ? ParseSettings(w, s, "settings") : new EvaluationSettings();
        var mitigation = root.TryGetValue("mitigation", out var m) ? ParseMitigation(w, m, "mitigation", mitigationDefaults) : mitigationDefaults;

        if (w.ErrorCount > 0 || suite is null || verifier is null || drafter is null || settings is null || mitigation is null)
        {
            return null;
        }

        return new EvaluationRequest
        {
            RunId = runId ?? newRunId(),
            Suite = suite,
            Verifier = verifier,
            Drafter = drafter,
            Settings = settings,
            Mitigation = mitigation,
        };
    }

    private string? Model(StrictJsonWalker w, JsonElement element, string path)
    {
        var value = w.String(element, path);
        if (value is null)
        {
            return null;
        }

        if (string.IsNullOrWhiteSpace(value) || !isKnownModel(value))
        {
            w.Error(path, $"unknown model {StrictJsonWalker.Quote(value)}: not in the model catalog");
            return null;
        }

        return value;
    }

    private EvaluationSettings? ParseSettings(StrictJsonWalker w, JsonElement element, string path)
    {
        var obj = w.Object(element, path, SettingsFields);
        if (obj is null)
        {
            return null;
        }

        var defaults = new EvaluationSettings();
        var errorsBefore = w.ErrorCount;
        var settings = new EvaluationSettings
        {
            Gamma = w.OptionalInt(obj, path, "gamma", defaults.Gamma, 1, limits.MaxGamma),
            Temperature = w.OptionalDouble(obj, path, "temperature", defaults.Temperature, v => v >= 0, "must be ≥ 0"),
            TopK = w.OptionalInt(obj, path, "topK", defaults.TopK, 0, int.MaxValue),
            TopP = w.OptionalDouble(obj, path, "topP", defaults.TopP, v => v is > 0 and <= 1, "must be in (0, 1]"),
            MaxNewTokens = w.OptionalInt(obj, path, "maxNewTokens", defaults.MaxNewTokens, 1, limits.MaxNewTokens),
            Seed = w.OptionalLong(obj, path, "seed", defaults.Seed),
            IgnoreEos = w.OptionalBool(obj, path, "ignoreEos", defaults.IgnoreEos),
            Repeats = w.OptionalInt(obj, path, "repeats", defaults.Repeats, 1, limits.MaxRepeats),
            PromptsPerShard = obj.ContainsKey("promptsPerShard") ? w.OptionalInt(obj, path, "promptsPerShard", 1, 1, limits.MaxPromptsPerShard) : null,
        };
        return w.ErrorCount == errorsBefore ? settings : null;
    }

    private static MitigationPolicy? ParseMitigation(StrictJsonWalker w, JsonElement element, string path, MitigationPolicy defaults)
    {
        var obj = w.Object(element, path, MitigationFields);
        if (obj is null)
        {
            return null;
        }

        var errorsBefore = w.ErrorCount;
        if (obj.ContainsKey("meanSpeedupTolerance"))
        {
            // The rule no longer guards the mean: it guards every task with a paired interval (method.md §6 step 5).
            w.Error($"{path}.meanSpeedupTolerance", "was replaced by speedupMargin: a result is promoted only when no task's measured after/before falls below 1 − speedupMargin at 95 % confidence");
        }

        var policy = new MitigationPolicy
        {
            UnfairnessThreshold = w.OptionalDouble(obj, path, "unfairnessThreshold", defaults.UnfairnessThreshold, v => v >= 0, "must be ≥ 0"),
            SpeedupGapThreshold = w.OptionalDouble(obj, path, "speedupGapThreshold", defaults.SpeedupGapThreshold, v => v >= 0, "must be ≥ 0"),
            AutoMitigate = w.OptionalBool(obj, path, "autoMitigate", defaults.AutoMitigate),
            SpeedupMargin = w.OptionalDouble(obj, path, "speedupMargin", defaults.SpeedupMargin, v => v is >= 0 and < 1, "must be in [0, 1)"),
            Strategy = obj.TryGetValue("strategy", out var strategy) ? Strategy(w, strategy, $"{path}.strategy") ?? defaults.Strategy : defaults.Strategy,
        };
        return w.ErrorCount == errorsBefore ? policy : null;
    }

    private static string? Strategy(StrictJsonWalker w, JsonElement element, string path)
    {
        var value = w.String(element, path);
        if (value is not null && !EvaluationRequestParser.Strategies.Contains(value, StringComparer.Ordinal))
        {
            w.Error(path, $"unknown strategy '{value}'; use one of {string.Join(", ", EvaluationRequestParser.Strategies)}");
            return null;
        }

        return value;
    }
}
