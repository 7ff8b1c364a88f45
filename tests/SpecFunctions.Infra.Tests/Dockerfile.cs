using System.Text.RegularExpressions;

namespace SpecFunctions.Infra.Tests;

/// <summary>One Dockerfile instruction after line continuations are joined.</summary>
internal sealed record DockerInstruction(string Keyword, string Arguments, int Line);

/// <summary>A build stage: its FROM image (ARG defaults substituted), optional alias and instructions.</summary>
internal sealed record DockerStage(string Image, string? Alias, IReadOnlyList<DockerInstruction> Instructions)
{
    /// <summary>The last USER instruction's argument in this stage, or null when the stage sets none.</summary>
    public string? User => Instructions.LastOrDefault(i => i.Keyword == "USER")?.Arguments;
}

/// <summary>An image reference split into repository, tag and digest.</summary>
internal sealed partial record ImageReference(string Repository, string? Tag, string? Digest)
{
    public static ImageReference Parse(string reference)
    {
        string? digest = null;
        var at = reference.IndexOf('@', StringComparison.Ordinal);
        if (at >= 0)
        {
            digest = reference[(at + 1)..];
            reference = reference[..at];
        }

        // A colon before the last slash belongs to a registry port (localhost:5000/app), not to a tag.
        var colon = reference.LastIndexOf(':');
        return colon > reference.LastIndexOf('/')
            ? new ImageReference(reference[..colon], reference[(colon + 1)..], digest)
            : new ImageReference(reference, null, digest);
    }

    /// <summary>
    /// Why the tag does not pin a version (no tag, "latest", or no dotted version number such as a bare major),
    /// or null when it does.
    /// </summary>
    public string? UnpinnedReason => Tag switch
    {
        null => "has no tag",
        "latest" => "uses the 'latest' tag",
        _ when !DottedVersion().IsMatch(Tag) => $"tag '{Tag}' names no dotted version (a bare major floats)",
        _ => null,
    };

    [GeneratedRegex(@"\d+\.\d+")]
    private static partial Regex DottedVersion();
}

/// <summary>A minimal Dockerfile reader: enough to check base images and the runtime user.</summary>
internal static partial class Dockerfile
{
    public static IReadOnlyList<DockerStage> Parse(string text)
    {
        var instructions = ReadInstructions(text);
        var globalArgs = new Dictionary<string, string>(StringComparer.Ordinal);
        var stages = new List<DockerStage>();
        List<DockerInstruction>? current = null;
        string? image = null;
        string? alias = null;

        foreach (var instruction in instructions)
        {
            if (instruction.Keyword == "FROM")
            {
                if (current is not null)
                {
                    stages.Add(new DockerStage(image!, alias, current));
                }

                var tokens = instruction.Arguments.Split(' ', StringSplitOptions.RemoveEmptyEntries)
                    .Where(t => !t.StartsWith("--", StringComparison.Ordinal))
                    .ToList();
                if (tokens.Count == 0)
                {
                    throw new FormatException($"Line {instruction.Line}: FROM without an image.");
                }

                image = Substitute(tokens[0], globalArgs);
                alias = tokens.Count >= 3 && tokens[1].Equals("AS", StringComparison.OrdinalIgnoreCase) ? tokens[2] : null;
                current = [];
            }
            else if (current is null)
            {
                // Only ARG may precede the first FROM; its defaults feed FROM lines.
                if (instruction.Keyword == "ARG")
                {
                    var parts = instruction.Arguments.Split('=', 2);
                    globalArgs[parts[0].Trim()] = parts.Length == 2 ? parts[1].Trim().Trim('"') : "";
                }
            }
            else
            {
                current.Add(instruction);
            }
        }

        if (current is not null)
        {
            stages.Add(new DockerStage(image!, alias, current));
        }

        return stages;
    }

    private static List<DockerInstruction> ReadInstructions(string text)
    {
        var result = new List<DockerInstruction>();
        var lines = text.Replace("\r\n", "\n", StringComparison.Ordinal).Split('\n');
        var buffer = new List<string>();
        var startLine = 0;
        for (var i = 0; i < lines.Length; i++)
        {
            var line = lines[i].Trim();
            if (line.StartsWith('#') || (buffer.Count == 0 && line.Length == 0))
            {
                continue;
            }

            if (buffer.Count == 0)
            {
                startLine = i + 1;
            }

            var continued = line.EndsWith('\\');
            buffer.Add(continued ? line[..^1].Trim() : line);
            if (!continued)
            {
                var joined = string.Join(' ', buffer.Where(b => b.Length > 0));
                buffer.Clear();
                var space = joined.IndexOf(' ', StringComparison.Ordinal);
                var keyword = (space < 0 ? joined : joined[..space]).ToUpperInvariant();
                var arguments = space < 0 ? "" : joined[(space + 1)..].Trim();
                result.Add(new DockerInstruction(keyword, arguments, startLine));
            }
        }

        return result;
    }

    private static string Substitute(string value, IReadOnlyDictionary<string, string> args) =>
        ArgReference().Replace(value, m =>
        {
            var name = m.Groups["braced"].Success ? m.Groups["braced"].Value : m.Groups["plain"].Value;
            return args.TryGetValue(name, out var replacement)
                ? replacement
                : throw new FormatException($"FROM uses ARG '{name}', which has no default before the first FROM.");
        });

    [GeneratedRegex(@"\$\{(?<braced>\w+)\}|\$(?<plain>\w+)")]
    private static partial Regex ArgReference();
}
