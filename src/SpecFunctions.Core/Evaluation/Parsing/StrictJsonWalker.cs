using System.Globalization;
using System.Text.Json;

namespace SpecFunctions.Core.Evaluation;

/// <summary>
/// Type checks over a parsed JSON document that record errors (with the field's JSON path) instead of throwing, so
/// one pass reports every problem: unknown and duplicate fields are rejected and no value is coerced.
/// </summary>
internal sealed class StrictJsonWalker(ErrorList errors)
{
    public const string LoneSurrogate = "is not valid Unicode text: it has a lone surrogate escape (\\uD800-\\uDFFF without its pair)";

    public int ErrorCount => errors.Count;

    public void Error(string path, string problem) => errors.Add(path, problem);

    public T? ErrorNull<T>(string path, string problem)
        where T : class
    {
        Error(path, problem);
        return null;
    }

    public static string Join(string path, string name) =>
        (path.Length == 0 ? "" : path + ".") + (IsPlainName(name) ? name : $"[{Quote(name)}]");

    // Quote and truncate so that hostile input can neither flood nor forge an error message.
    public static string Quote(string value) =>
        "'" + new string(value.Take(64).Select(c => char.IsControl(c) ? '?' : c).ToArray()) + (value.Length > 64 ? "…'" : "'");

    public Dictionary<string, JsonElement>? Object(JsonElement element, string path, string[] allowed)
    {
        if (element.ValueKind != JsonValueKind.Object)
        {
            Error(path, $"must be an object, got {Kind(element)}");
            return null;
        }

        var result = new Dictionary<string, JsonElement>(StringComparer.Ordinal);
        var ok = true;
        foreach (var property in element.EnumerateObject())
        {
            string name;
            try
            {
                name = property.Name;
            }
            catch (InvalidOperationException)
            {
                Error(path, "has a field name that " + LoneSurrogate);
                ok = false;
                continue;
            }

            var field = Join(path, name);
            if (!allowed.Contains(name, StringComparer.Ordinal))
            {
                Error(field, $"unknown field (allowed here: {string.Join(", ", allowed)})");
                ok = false;
            }
            else if (!result.TryAdd(name, property.Value))
            {
                Error(field, "appears more than once");
                ok = false;
            }
        }

        return ok ? result : null;
    }

    public List<JsonElement>? Array(JsonElement element, string path)
    {
        if (element.ValueKind != JsonValueKind.Array)
        {
            Error(path, $"must be an array, got {Kind(element)}");
            return null;
        }

        return [.. element.EnumerateArray()];
    }

    public T? Required<T>(Dictionary<string, JsonElement> obj, string path, string name, Func<JsonElement, string, T?> read)
        where T : class
    {
        var field = Join(path, name);
        if (!obj.TryGetValue(name, out var element))
        {
            Error(field, "is required");
            return null;
        }

        return read(element, field);
    }

    public string? String(JsonElement element, string path)
    {
        if (element.ValueKind != JsonValueKind.String)
        {
            Error(path, $"must be a string, got {Kind(element)}");
            return null;
        }

        try
        {
            return element.GetString();
        }
        catch (InvalidOperationException)
        {
            // The document is valid UTF-8 (checked up front), so the only string that cannot be read is one whose
            // escapes are invalid UTF-16: a lone surrogate such as "\ud800".
            Error(path, LoneSurrogate);
            return null;
        }
    }

    public int OptionalInt(Dictionary<string, JsonElement> obj, string path, string name, int fallback, int min, int max)
    {
        if (!obj.TryGetValue(name, out var element))
        {
            return fallback;
        }

        var field = Join(path, name);
        if (element.ValueKind != JsonValueKind.Number || !element.TryGetInt64(out var value))
        {
            Error(field, element.ValueKind == JsonValueKind.Number ? "must be a whole number" : $"must be an integer, got {Kind(element)}");
            return fallback;
        }

        if (value < min || value > max)
        {
            Error(field, max == int.MaxValue ? $"is {value}; must be ≥ {min}" : $"is {value}; must be between {min} and {max}");
            return fallback;
        }

        return (int)value;
    }

    public long OptionalLong(Dictionary<string, JsonElement> obj, string path, string name, long fallback)
    {
        if (!obj.TryGetValue(name, out var element))
        {
            return fallback;
        }

        if (element.ValueKind != JsonValueKind.Number || !element.TryGetInt64(out var value))
        {
            Error(Join(path, name), element.ValueKind == JsonValueKind.Number
                ? "must be a whole number within the 64-bit range"
                : $"must be an integer, got {Kind(element)}");
            return fallback;
        }

        return value;
    }

    public double OptionalDouble(Dictionary<string, JsonElement> obj, string path, string name, double fallback, Func<double, bool> valid, string rule)
    {
        if (!obj.TryGetValue(name, out var element))
        {
            return fallback;
        }

        var field = Join(path, name);
        if (element.ValueKind != JsonValueKind.Number)
        {
            Error(field, $"must be a number, got {Kind(element)}");
            return fallback;
        }

        if (!element.TryGetDouble(out var value) || !double.IsFinite(value))
        {
            Error(field, "must be a finite number");
            return fallback;
        }

        if (!valid(value))
        {
            Error(field, string.Create(CultureInfo.InvariantCulture, $"is {value}; {rule}"));
            return fallback;
        }

        return value;
    }

    public bool OptionalBool(Dictionary<string, JsonElement> obj, string path, string name, bool fallback)
    {
        if (!obj.TryGetValue(name, out var element))
        {
            return fallback;
        }

        if (element.ValueKind is not (JsonValueKind.True or JsonValueKind.False))
        {
            Error(Join(path, name), $"must be true or false, got {Kind(element)}");
            return fallback;
        }

        return element.GetBoolean();
    }

    private static bool IsPlainName(string name) =>
        name.Length is > 0 and <= 64 && name.All(c => char.IsAsciiLetterOrDigit(c) || c == '_');

    private static string Kind(JsonElement element) => element.ValueKind switch
    {
        JsonValueKind.Object => "an object",
        JsonValueKind.Array => "an array",
        JsonValueKind.String => "a string",
        JsonValueKind.Number => "a number",
        JsonValueKind.True or JsonValueKind.False => "a boolean",
        JsonValueKind.Null => "null (omit the field to use its default)",
        _ => "nothing",
    };
}
