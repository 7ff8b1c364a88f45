using System.Text.Json;
using System.Text.Json.Serialization;

namespace SpecFunctions.Orchestration;

/// <summary>The wire names of the orchestration's enums, for text output (the CLI's table, logs).</summary>
public static class WireNames
{
    /// <summary>The string <paramref name="value"/> is serialised as (its <see cref="JsonStringEnumMemberNameAttribute"/>).</summary>
    public static string Of<TEnum>(TEnum value)
        where TEnum : struct, Enum => JsonSerializer.Serialize(value).Trim('"');
}
