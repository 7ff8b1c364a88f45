using System.Text.Json;
using System.Text.Unicode;

namespace SpecFunctions.Core.Evaluation;

/// <summary>
/// A suite file task's <c>promptsFile</c> (CLI only): a plain file name in the suite's folder, read through an
/// <see cref="IPromptsFileSource"/>; its problems are reported under the field's path like any other field's.
/// </summary>
internal static class PromptsFile
{
    /// <summary>
    /// The prompts of a task's <c>promptsFile</c>: one per non-blank line of strict UTF-8 (a leading BOM is skipped,
    /// <c>\r\n</c> ends a line too), under the same limits as inline prompts; problems name the line.
    /// </summary>
    public static List<string>? Read(StrictJsonWalker w, JsonElement element, string path, IPromptsFileSource files, EvaluationLimits limits)
    {
        var name = w.String(element, path);
        if (name is null)
        {
            return null;
        }

        if (NameProblem(name) is { } nameProblem)
        {
            w.Error(path, nameProblem);
            return null;
        }

        var file = StrictJsonWalker.Quote(name);
        if (!files.TryRead(name, limits.MaxBodyBytes, out var content, out var readProblem))
        {
            w.Error(path, $"{file} {readProblem}");
            return null;
        }

        var bytes = content.AsSpan();
        if (bytes.StartsWith(StrictJsonDocument.Utf8Bom))
        {
            bytes = bytes[StrictJsonDocument.Utf8Bom.Length..];
        }

        var chars = new char[bytes.Length];
        if (Utf8.ToUtf16(bytes, chars, out var read, out var written, replaceInvalidSequences: false) != System.Buffers.OperationStatus.Done)
        {
            w.Error(path, $"{file} is not valid UTF-8 at {StrictJsonDocument.Position(bytes, read)}; save it as UTF-8");
            return null;
        }

        var prompts = new List<(string Text, int Line)>();
        var lineNumber = 0;
        foreach (var raw in new string(chars, 0, written).Split('\n'))
        {
            lineNumber++;
            var text = raw.EndsWith('\r') ? raw[..^1] : raw;
            if (!string.IsNullOrWhiteSpace(text))
            {
                prompts.Add((text, lineNumber));
            }
        }

        if (prompts.Count == 0 || prompts.Count > limits.MaxPromptsPerTask)
        {
            w.Error(path, $"{file} has {prompts.Count} prompts (non-blank lines); between 1 and {limits.MaxPromptsPerTask} are allowed");
            return null;
        }

        var ok = true;
        foreach (var (text, line) in prompts.Where(p => p.Text.Length > limits.MaxPromptChars))
        {
            w.Error(path, $"{file} line {line} is {text.Length} characters long; the limit is {limits.MaxPromptChars}");
            ok = false;
        }

        return ok ? [.. prompts.Select(p => p.Text)] : null;
    }

    /// <summary>
    /// Why <paramref name="name"/> is not a plain file name in the suite's folder, or null: no separators, not
    /// <c>.</c> or <c>..</c>, no control characters (NUL, line breaks), no surrounding white space, at most 255 bytes.
    /// </summary>
    private static string? NameProblem(string name)
    {
        const string Rule = "must be the name of a file in the suite's folder";
        if (name.Length == 0)
        {
            return $"{Rule}, got an empty string";
        }

        if (name is "." or ".." || name.Contains('/') || name.Contains('\\'))
        {
            return $"{StrictJsonWalker.Quote(name)}: {Rule}, without '/' or '\\' and not '.' or '..'";
        }

        if (name.Any(char.IsControl))
        {
            return $"{StrictJsonWalker.Quote(name)}: {Rule}; control characters (NUL, line breaks) are not allowed";
        }

        if (name.Trim().Length != name.Length)
        {
            return $"{StrictJsonWalker.Quote(name)}: {Rule}, without leading or trailing white space";
        }

        return System.Text.Encoding.UTF8.GetByteCount(name) > 255 ? $"{StrictJsonWalker.Quote(name)}: {Rule}; names are at most 255 bytes" : null;
    }
}
