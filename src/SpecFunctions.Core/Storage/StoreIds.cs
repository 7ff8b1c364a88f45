using System.Text.RegularExpressions;

namespace SpecFunctions.Core.Storage;

/// <summary>
/// Validation of the ids that become parts of object names. Only ids matching <see cref="Pattern"/> reach storage,
/// so no path traversal, separator, case folding or unicode normalisation issue can arise.
/// </summary>
public static partial class StoreIds
{
    /// <summary>
    /// Run, task and model ids: lower-case ASCII letters and digits, '-' and '_', 1–64 characters, starting with a letter
    /// or digit. Anchored with <c>\z</c>: .NET's <c>$</c> also matches before a final <c>\n</c>, which let "en\n" through.
    /// </summary>
    public const string Pattern = @"^[a-z0-9][a-z0-9-_]{0,63}\z";

    [GeneratedRegex(Pattern, RegexOptions.CultureInvariant)]
    private static partial Regex IdRegex();

    [GeneratedRegex(@"^[0-9a-f]{64}\z", RegexOptions.CultureInvariant)]
    private static partial Regex Sha256Regex();

    // File names inside a model folder: no separators, no leading dot, so "..", ".git" and hidden files cannot appear.
    [GeneratedRegex(@"^[A-Za-z0-9_][A-Za-z0-9._-]{0,127}\z", RegexOptions.CultureInvariant)]
    private static partial Regex FileSegmentRegex();

    public static bool IsValid(string? id) => id is not null && IdRegex().IsMatch(id);

    /// <summary>Throws <see cref="ArgumentException"/> naming <paramref name="kind"/> unless <paramref name="id"/> matches <see cref="Pattern"/>.</summary>
    public static string Validate(string? id, string kind)
    {
        if (!IsValid(id))
        {
            throw new ArgumentException(
                $"invalid {kind} id {Describe(id)}: must match {Pattern} (lower-case letters, digits, '-', '_'; 1-64 characters)",
                kind + "Id");
        }

        return id!;
    }

    /// <summary>Throws unless <paramref name="sha256"/> is 64 lower-case hex digits.</summary>
    public static string ValidateSha256(string? sha256, string what)
    {
        if (sha256 is null || !Sha256Regex().IsMatch(sha256))
        {
            throw new ArgumentException($"invalid {what} {Describe(sha256)}: must be 64 lower-case hex digits (SHA-256)", what);
        }

        return sha256;
    }

    /// <summary>Throws unless every segment of a model-folder relative path is a plain file or folder name.</summary>
    public static string ValidateRelativeFilePath(string relativePath)
    {
        var segments = relativePath.Split('/');
        if (segments.Length > 8 || segments.Any(s => !FileSegmentRegex().IsMatch(s)))
        {
            throw new ArgumentException(
                $"model file name {Describe(relativePath)} is not storable: each path segment must match {FileSegmentRegex()} (at most 8 levels)",
                nameof(relativePath));
        }

        return relativePath;
    }

    // Quote and truncate so that hostile input cannot flood or forge a log line.
    private static string Describe(string? value) => value switch
    {
        null => "(null)",
        "" => "(empty)",
        _ => "'" + new string(value.Take(70).Select(c => char.IsControl(c) ? '?' : c).ToArray()) + (value.Length > 70 ? "…'" : "'"),
    };
}
