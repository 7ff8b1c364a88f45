namespace SpecFunctions.Core.Tracing;

/// <summary>Receives trace records as a run produces them (streamed: a sink must not need the whole trace at once).</summary>
public interface ITraceSink
{
    void Write(TraceRecord record);
}

/// <summary>Serializer settings shared by every reader and writer of trace lines.</summary>
public static class TraceJson
{
    public static System.Text.Json.JsonSerializerOptions Options { get; } = new(System.Text.Json.JsonSerializerDefaults.Web)
    {
        WriteIndented = false,
        NumberHandling = System.Text.Json.Serialization.JsonNumberHandling.AllowNamedFloatingPointLiterals,
    };

    public static string Serialize(TraceRecord record) => System.Text.Json.JsonSerializer.Serialize(record, Options);

    public static TraceRecord Deserialize(string line) =>
        System.Text.Json.JsonSerializer.Deserialize<TraceRecord>(line, Options)
        ?? throw new FormatException("trace line is null");
}

/// <summary>Keeps records in memory (tests, small runs).</summary>
public sealed class ListTraceSink : ITraceSink
{
    private readonly List<TraceRecord> _records = [];

    public IReadOnlyList<TraceRecord> Records => _records;

    public IEnumerable<StepTrace> Steps => _records.OfType<StepTrace>();

    public IEnumerable<PromptTrace> Prompts => _records.OfType<PromptTrace>();

    public void Write(TraceRecord record)
    {
        lock (_records)
        {
            _records.Add(record);
        }
    }
}
