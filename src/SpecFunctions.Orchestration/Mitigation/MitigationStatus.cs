using System.Text.Json.Serialization;

namespace SpecFunctions.Orchestration;

/// <summary>How a <c>MitigateDrafter</c> orchestration ended. Serialised as the strings the API has always returned.</summary>
[JsonConverter(typeof(JsonStringEnumConverter<MitigationStatus>))]
public enum MitigationStatus
{
    /// <summary>The new drafter (or the per-task draft lengths) passed the promotion rule and is now the suite's.</summary>
    [JsonStringEnumMemberName("promoted")]
    Promoted,

    /// <summary>Re-evaluated and compared; the rule kept the current drafter.</summary>
    [JsonStringEnumMemberName("kept")]
    Kept,

    /// <summary>The external trainer sent no new drafter in time; the current drafter stays.</summary>
    [JsonStringEnumMemberName("timed-out")]
    TimedOut,

    /// <summary>Nothing was trained: no training prompts, some are evaluation prompts, or gating has no γ* to use.</summary>
    [JsonStringEnumMemberName("refused")]
    Refused,
}
