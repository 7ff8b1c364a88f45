
namespace SpecFunctions.Orchestration;

/// <summary>The run-level device warning: a GPU was requested and some tasks ran on the CPU.</summary>
public static class DeviceWarnings
{
    /// <summary>One sentence naming the tasks that fell back and why, or null when none did.</summary>
    public static string? For(IEnumerable<TaskSummary> tasks)
    {
        var fell = tasks.Where(t => t.Device?.FellBackToCpu == true).ToList();
        if (fell.Count == 0)
        {
            return null;
        }

        var notes = fell.Select(t => t.Device!.Note).Where(n => !string.IsNullOrWhiteSpace(n)).Distinct(StringComparer.Ordinal).ToList();
        var why = notes.Count > 0 ? string.Join("; ", notes) : "ONNX Runtime could not load its CUDA execution provider";
        return $"GPU requested but the CPU ran {fell.Count} task(s) ({string.Join(", ", fell.Select(t => t.TaskId))}); their speed-ups are CPU speed-ups: {why}";
    }
}
