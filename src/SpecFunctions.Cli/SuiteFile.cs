using System.Text.Json;
using SpecFunctions.Core.Evaluation;

namespace SpecFunctions.Cli;

/// <summary>
/// Reads a suite: JSON <c>{ "name": ..., "tasks": [ { "id": ..., "prompts": [...] } ] }</c>, where a task may give
/// <c>"promptsFile"</c> (one prompt per line, a file next to the suite file) instead of <c>"prompts"</c>.
/// </summary>
internal static class SuiteFile
{
    /// <summary>
    /// Loads and validates a suite file with the parser the HTTP API uses, prompts files included (one strict pass);
    /// throws <see cref="FormatException"/> with a one-line message naming every problem's field.
    /// </summary>
    public static SuiteDefinition Load(string path, EvaluationLimits? limits = null)
    {
        limits ??= new EvaluationLimits();
        var fullPath = Path.GetFullPath(path);

        // The suite file itself may be a link (the user named it), but must lead to a regular file: a FIFO would block
        // the read and a device such as /dev/zero would never end.
        if (!LocalFiles.TryReadRegularFile(fullPath, followLink: true, limits.MaxBodyBytes, out var bytes, out var problem))
        {
            throw new FormatException($"suite file {Describe(path)} {problem}");
        }

        var parser = new EvaluationRequestParser(limits, _ => true, () => "unused");
        var result = parser.ParseSuite(bytes, new FolderPromptsFiles(Path.GetDirectoryName(fullPath)!));
        return result.Value ?? throw new FormatException($"suite file {Describe(path)}: {string.Join("; ", result.Errors)}");
    }

    public static void Save(SuiteDefinition suite, string path)
    {
        Directory.CreateDirectory(Path.GetDirectoryName(Path.GetFullPath(path))!);
        File.WriteAllText(path, JsonSerializer.Serialize(suite, new JsonSerializerOptions { WriteIndented = true, Encoder = System.Text.Encodings.Web.JavaScriptEncoder.UnsafeRelaxedJsonEscaping }));
    }

    // A path from the command line can hold line breaks; keep the message on one line.
    private static string Describe(string path) => "'" + new string([.. path.Select(c => char.IsControl(c) ? '?' : c)]) + "'";

    /// <summary>
    /// Prompts files in the suite's folder: regular files only, never through a symbolic link (a link could lead
    /// anywhere, /etc/shadow included, and its first line would land in the run's manifest).
    /// </summary>
    private sealed class FolderPromptsFiles(string folder) : IPromptsFileSource
    {
        public bool TryRead(string fileName, int maxBytes, out byte[] content, out string problem)
        {
            // The parser admits plain names only (no separators, not "." or ".."); check containment all the same.
            var path = Path.GetFullPath(Path.Combine(folder, fileName));
            if (!string.Equals(Path.GetDirectoryName(path), folder, StringComparison.Ordinal))
            {
                (content, problem) = ([], "is not a file in the suite's folder");
                return false;
            }

            return LocalFiles.TryReadRegularFile(path, followLink: false, maxBytes, out content, out problem);
        }
    }
}
