using System.Text.Json.Serialization;

namespace SpecFunctions.Orchestration;

/// <summary>How one task's evaluation ended, as its <see cref="TaskSummary"/> reports it (and the evaluation queue carries it).</summary>
[JsonConverter(typeof(JsonStringEnumConverter<TaskOutcome>))]
public enum TaskOutcome
{
    /// <summary>Its trace was written and committed in this run.</summary>
    [JsonStringEnumMemberName("committed")]
    Committed,

    /// <summary>An identical committed trace (same content key) is reused.</summary>
    [JsonStringEnumMemberName("reused")]
    Reused,

    [JsonStringEnumMemberName("failed")]
    Failed,

    /// <summary>The run was cancelled before the task started or while it ran; nothing was committed.</summary>
    [JsonStringEnumMemberName("cancelled")]
    Cancelled,
}
