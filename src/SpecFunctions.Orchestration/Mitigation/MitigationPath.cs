using System.Text.Json.Serialization;

namespace SpecFunctions.Orchestration;

/// <summary>Where <c>PlanMitigation</c> sends the training. Serialised as the strings the plan has always carried.</summary>
[JsonConverter(typeof(JsonStringEnumConverter<MitigationPath>))]
public enum MitigationPath
{
    /// <summary>A registered <see cref="Core.Mitigation.Training.IDrafterTrainer"/> supports the drafter's family.</summary>
    [JsonStringEnumMemberName("in-process")]
    InProcess,

    /// <summary>The plan goes to the external trainer, and the orchestration waits for its new drafter.</summary>
    [JsonStringEnumMemberName("external")]
    External,

    /// <summary>The mitigation is refused (see the outcome's reason).</summary>
    [JsonStringEnumMemberName("refused")]
    Refused,
}
