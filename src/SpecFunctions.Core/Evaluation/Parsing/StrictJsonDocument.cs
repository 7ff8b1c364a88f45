using System.Globalization;
using System.Text.Json;
using System.Text.Unicode;

namespace SpecFunctions.Core.Evaluation;

/// <summary>
/// The gate before <see cref="StrictJsonWalker"/>: bytes become a <see cref="JsonDocument"/> only if they are within
/// the size limit, non-empty, strict UTF-8 (a leading BOM is skipped) and JSON without comments or trailing commas,
/// nested at most <see cref="MaxDepth"/> levels; otherwise one error at <c>$</c> says what and where, in our words.
/// </summary>
internal static class StrictJsonDocument
{
    /// <summary>Our schema is four levels deep; anything much deeper is not a submission.</summary>
    public const int MaxDepth = 16;

    private static readonly JsonDocumentOptions DocumentOptions = new()
    {
        MaxDepth = MaxDepth,
        CommentHandling = JsonCommentHandling.Disallow,
        AllowTrailingCommas = false,
    };

    public static ReadOnlySpan<byte> Utf8Bom => [0xEF, 0xBB, 0xBF];

    /// <param name="body">The bytes.</param>
    /// <param name="maxBytes">The size limit, bytes.</param>
    /// <param name="errors">Where the one problem goes.</param>
    /// <param name="what">What the bytes are, for messages: "the body", "the suite file".</param>
    public static JsonDocument? Parse(ReadOnlyMemory<byte> body, int maxBytes, ErrorList errors, string what)
    {
        if (body.Length > maxBytes)
        {
            errors.Add("$", $"{what} is {body.Length} bytes; the limit is {maxBytes} bytes");
            return null;
        }

        var span = body.Span;
        if (span.StartsWith(Utf8Bom))
        {
            body = body[Utf8Bom.Length..];
            span = body.Span;
        }

        if (span.IsEmpty || span.Trim((ReadOnlySpan<byte>)[(byte)' ', (byte)'\t', (byte)'\r', (byte)'\n']).IsEmpty)
        {
            errors.Add("$", $"{what} is empty; expected a JSON object");
            return null;
        }

        // The JSON reader would accept some invalid sequences inside strings until they are read; reject them up front.
        var chars = new char[span.Length];
        if (Utf8.ToUtf16(span, chars, out var read, out _, replaceInvalidSequences: false) != System.Buffers.OperationStatus.Done)
        {
            errors.Add("$", $"{what} is not valid UTF-8 at {Position(span, read)}");
            return null;
        }

        try
        {
            return JsonDocument.Parse(body, DocumentOptions);
        }
        catch (JsonException ex)
        {
            errors.Add("$", DescribeJsonError(span, ex, what));
            return null;
        }
    }

    /// <summary>"line L, byte B" (both from 1) of byte <paramref name="offset"/>.</summary>
    public static string Position(ReadOnlySpan<byte> text, int offset)
    {
        var before = text[..offset];
        var lineStart = before.LastIndexOf((byte)'\n') + 1;
        return string.Create(CultureInfo.InvariantCulture, $"line {before.Count((byte)'\n') + 1}, byte {offset - lineStart + 1}");
    }

    // System.Text.Json's own messages ("'0xEF' is an invalid start of a value. LineNumber: 0 | ...") are not ours to
    // show; say what is wrong and where, and tell too deep a nesting apart from a syntax error.
    private static string DescribeJsonError(ReadOnlySpan<byte> json, JsonException ex, string what)
    {
        var reader = new Utf8JsonReader(json, new JsonReaderOptions { MaxDepth = 1 << 20, CommentHandling = JsonCommentHandling.Disallow });
        try
        {
            while (reader.Read())
            {
                if (reader.TokenType is JsonTokenType.StartObject or JsonTokenType.StartArray && reader.CurrentDepth >= DocumentOptions.MaxDepth)
                {
                    return $"{what} nests objects and arrays more than {DocumentOptions.MaxDepth} levels deep at {Position(json, (int)reader.TokenStartIndex)}";
                }
            }
        }
        catch (JsonException)
        {
            // The syntax error below.
        }

        return ex.LineNumber is { } line
            ? string.Create(CultureInfo.InvariantCulture, $"{what} is not valid JSON at line {line + 1}, byte {ex.BytePositionInLine + 1}")
            : $"{what} is not valid JSON";
    }
}
