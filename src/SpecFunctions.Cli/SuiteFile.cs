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
    /// <summary>
    /// Loads a suite file, expands <c>promptsFile</c> entries, then validates it with the same parser the HTTP API uses;
    /// throws <see cref="FormatException"/> with every problem and its field.
    /// </summary>
    public static SuiteDefinition Load(string path, EvaluationLimits? limits = null)
    {
        if (!File.Exists(path))
        {
            throw new FormatException($"suite file '{path}' not found");
        }

        var bytes = File.ReadAllBytes(path);
        try
        {
            bytes = ExpandPromptFiles(bytes, Path.GetDirectoryName(Path.GetFullPath(path))!);
        }
        catch (Exception ex) when (ex is System.Text.Json.JsonException or IOException)
        {
            throw new FormatException($"suite file '{path}': {ex.Message}", ex);
        }

        var parser = new EvaluationRequestParser(limits ?? new EvaluationLimits(), _ => true, () => "unused");
        var result = parser.ParseSuite(bytes);
        return result.Value ?? throw new FormatException($"suite file '{path}': {string.Join("; ", result.Errors)}");
    }

    /// <summary>Replaces each task's <c>"promptsFile"</c> (one prompt per non-empty line, relative to the suite) with <c>"prompts"</c>.</summary>
    private static byte[] ExpandPromptFiles(byte[] bytes, string folder)
    {
        if (System.Text.Json.Nodes.JsonNode.Parse(bytes) is not System.Text.Json.Nodes.JsonObject root
            || root["tasks"] is not System.Text.Json.Nodes.JsonArray tasks)
        {
            return bytes;
        }

        var changed = false;
        foreach (var task in tasks.OfType<System.Text.Json.Nodes.JsonObject>())
        {
            if (task["promptsFile"]?.GetValue<string>() is { } file)
            {
                // Only a file next to the suite: a suite file must not read arbitrary paths.
                if (Path.GetFileName(file) != file)
                {
                    throw new IOException($"promptsFile '{file}' must be a file name in the suite's folder");
                }

                var lines = File.ReadAllLines(Path.Combine(folder, file)).Where(l => !string.IsNullOrWhiteSpace(l));
                task.Remove("promptsFile");
                task["prompts"] = new System.Text.Json.Nodes.JsonArray([.. lines.Select(l => (System.Text.Json.Nodes.JsonNode?)l)]);
                changed = true;
            }
        }

        return changed ? System.Text.Encoding.UTF8.GetBytes(root.ToJsonString()) : bytes;
    }

    public static void Save(SuiteDefinition suite, string path)
    {
        Directory.CreateDirectory(Path.GetDirectoryName(Path.GetFullPath(path))!);
        File.WriteAllText(path, JsonSerializer.Serialize(suite, new JsonSerializerOptions { WriteIndented = true, Encoder = System.Text.Encodings.Web.JavaScriptEncoder.UnsafeRelaxedJsonEscaping }));
    }
}
