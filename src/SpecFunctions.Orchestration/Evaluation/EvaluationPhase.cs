using System.Text.Json.Serialization;

namespace SpecFunctions.Orchestration;

/// <summary>Where an orchestration is, in its Durable custom status (<see cref="EvaluationProgress"/>).</summary>
[JsonConverter(typeof(JsonStringEnumConverter<EvaluationPhase>))]
public enum EvaluationPhase
{
    [JsonStringEnumMemberName("preparing")]
    Preparing,

    [JsonStringEnumMemberName("evaluating")]
    Evaluating,

    /// <summary>A cancel event arrived; the running tasks stop between prompts.</summary>
    [JsonStringEnumMemberName("cancelling")]
    Cancelling,

    [JsonStringEnumMemberName("fairness")]
    Fairness,

    [JsonStringEnumMemberName("mitigating")]
    Mitigating,

    [JsonStringEnumMemberName("done")]
    Done,

    [JsonStringEnumMemberName("cancelled")]
    Cancelled,

    // MitigateDrafter's phases.
    [JsonStringEnumMemberName("planning")]
    Planning,

    [JsonStringEnumMemberName("refused")]
    Refused,

    [JsonStringEnumMemberName("training")]
    Training,

    [JsonStringEnumMemberName("waiting-for-trainer")]
    WaitingForTrainer,

    [JsonStringEnumMemberName("re-evaluating")]
    ReEvaluating,

    [JsonStringEnumMemberName("comparing")]
    Comparing,
}
