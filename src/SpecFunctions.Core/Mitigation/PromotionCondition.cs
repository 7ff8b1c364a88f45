using System.Text.Json.Serialization;

namespace SpecFunctions.Core.Mitigation;

/// <summary>The conditions of the promotion rule (method.md §6 step 5), as the report names the one that decided.</summary>
[JsonConverter(typeof(JsonStringEnumConverter<PromotionCondition>))]
public enum PromotionCondition
{
    /// <summary>(a) for a new drafter: U fell, the paired interval of ΔU below 0.</summary>
    [JsonStringEnumMemberName("unfairness-fell")]
    UnfairnessFell,

    /// <summary>(a) for gating (same drafter, so U cannot move): the worst task's speed-up rose, its interval above 0.</summary>
    [JsonStringEnumMemberName("worst-task-rose")]
    WorstTaskRose,

    /// <summary>(b) every task's paired interval of after / before has its lower end at or above 1 − margin.</summary>
    [JsonStringEnumMemberName("no-task-worse-off")]
    NoTaskWorseOff,

    /// <summary>Both held: promoted.</summary>
    [JsonStringEnumMemberName("both")]
    Both,
}
