using System.Text.Json;
using System.Text.Json.Serialization;
using SpecFunctions.Core.Evaluation;
using SpecFunctions.Core.Storage;

namespace SpecFunctions.Cli;

/// <summary>
/// Reads a suite: JSON <c>{ "name": ..., "tasks": [ { "id": ..., "prompts": [...] } ] }</c>, where a task may give
/// <c>"promptsFile"</c> (one prompt per line, relative to the suite file) instead of <c>"prompts"</c>.
/// </summary>
internal static class SuiteFile
{
    private sealed record FileTask
    {
        [JsonPropertyName("id")]
        public string? Id { get; init; }

        [JsonPropertyName("prompts")]
        public List<string>? Prompts { get; init; }

        [JsonPropertyName("promptsFile")]
        public string? PromptsFile { get; init; }
    }

    private sealed record FileSuite
    {
        [JsonPropertyName("name")]
        public string? Name { get; init; }

        [JsonPropertyName("tasks")]
        public List<FileTask>? Tasks { get; init; }
    }

    private static readonly JsonSerializerOptions Options = new() { UnmappedMemberHandling = JsonUnmappedMemberHandling.Disallow };

    /// <summary>Loads and validates a suite file; throws <see cref="FormatException"/> with a message naming the field.</summary>
    public static SuiteDefinition Load(string path, EvaluationLimits? limits = null)
    {
        limits ??= new EvaluationLimits();
        if (!File.Exists(path))
        {
            throw new FormatException($"suite file '{path}' not found");
        }

        FileSuite? file;
        try
        {
            file = JsonSerializer.Deserialize<FileSuite>(File.ReadAllBytes(path), Options);
        }
        catch (JsonException ex)
        {
            throw new FormatException($"suite file '{path}': {ex.Message}", ex);
        }

        if (file?.Tasks is not { Count: > 0 } tasks)
        {
            throw new FormatException($"suite file '{path}': 'tasks' must be a non-empty array");
        }

        if (tasks.Count > limits.MaxTasks)
        {
            throw new FormatException($"suite file '{path}': {tasks.Count} tasks exceed the limit of {limits.MaxTasks}");
        }

        var folder = Path.GetDirectoryName(Path.GetFullPath(path))!;
        var seen = new HashSet<string>(StringComparer.Ordinal);
        var result = new List<SuiteTask>();
        for (var i = 0; i < tasks.Count; i++)
        {
            var t = tasks[i];
            var field = $"tasks[{i}]";
            if (!StoreIds.IsValid(t.Id))
            {
                throw new FormatException($"suite file '{path}': {field}.id '{t.Id}' must match {StoreIds.Pattern}");
            }

            if (!seen.Add(t.Id!))
            {
                throw new FormatException($"suite file '{path}': {field}.id '{t.Id}' is a duplicate");
            }

            var prompts = t.Prompts ?? (t.PromptsFile is { } file1
                ? [.. File.ReadAllLines(Path.Combine(folder, file1)).Where(l => !string.IsNullOrWhiteSpace(l))]
                : null);
            if (prompts is not { Count: > 0 })
            {
                throw new FormatException($"suite file '{path}': {field} needs 'prompts' or 'promptsFile' with at least one prompt");
            }

            if (prompts.Count > limits.MaxPromptsPerTask)
            {
                throw new FormatException($"suite file '{path}': {field} has {prompts.Count} prompts, more than {limits.MaxPromptsPerTask}");
            }

            for (var j = 0; j < prompts.Count; j++)
            {
                if (string.IsNullOrWhiteSpace(prompts[j]) || prompts[j].Length > limits.MaxPromptChars)
                {
                    throw new FormatException($"suite file '{path}': {field}.prompts[{j}] must be non-empty and at most {limits.MaxPromptChars} characters");
                }
            }

            result.Add(new SuiteTask { Id = t.Id!, Prompts = prompts });
        }

        return new SuiteDefinition { Name = string.IsNullOrWhiteSpace(file.Name) ? Path.GetFileNameWithoutExtension(path) : file.Name, Tasks = result };
    }

    public static void Save(SuiteDefinition suite, string path)
    {
        Directory.CreateDirectory(Path.GetDirectoryName(Path.GetFullPath(path))!);
        File.WriteAllText(path, JsonSerializer.Serialize(suite, new JsonSerializerOptions { WriteIndented = true, Encoder = System.Text.Encodings.Web.JavaScriptEncoder.UnsafeRelaxedJsonEscaping }));
    }
}
