using System.Security.Cryptography;
using System.Text;
using System.Text.Json;

namespace SpecFunctions.Core.Storage;

/// <summary>
/// The identity of a task's computation: equal keys mean an identical trace would be produced (up to wall-clock
/// timings), so a committed trace with the same key is reused instead of recomputed.
/// </summary>
public static class ContentKey
{
    /// <summary>
    /// SHA-256 (64 lower-case hex digits) of a canonical JSON document holding the drafter and verifier hashes,
    /// the settings and the prompts in order. Prompts are hashed as given (no trimming or normalisation).
    /// </summary>
    public static string Compute(string drafterSha256, string verifierSha256, RunSettings settings, IEnumerable<string> prompts)
    {
        StoreIds.ValidateSha256(drafterSha256, "drafterSha256");
        StoreIds.ValidateSha256(verifierSha256, "verifierSha256");
        ArgumentNullException.ThrowIfNull(settings);
        ArgumentNullException.ThrowIfNull(prompts);

        using var buffer = new MemoryStream();
        using (var writer = new Utf8JsonWriter(buffer))
        {
            writer.WriteStartObject();
            // 2: statistics on reference prefixes (ReferenceTrace); a v1 trace has none, so it is never reused.
            writer.WriteNumber("v", 2);
            writer.WriteString("drafter", drafterSha256);
            writer.WriteString("verifier", verifierSha256);
            writer.WritePropertyName("settings");
            // Extension data is sorted so that the key does not depend on dictionary order.
            var canonicalSettings = settings with
            {
                Extra = settings.Extra?.OrderBy(kv => kv.Key, StringComparer.Ordinal).ToDictionary(),
            };
            JsonSerializer.Serialize(writer, canonicalSettings, RunManifest.JsonOptions);
            writer.WriteStartArray("prompts");
            foreach (var prompt in prompts)
            {
                writer.WriteStringValue(prompt);
            }

            writer.WriteEndArray();
            writer.WriteEndObject();
        }

        return Convert.ToHexStringLower(SHA256.HashData(buffer.GetBuffer().AsSpan(0, (int)buffer.Length)));
    }

    /// <summary>Lower-case hex SHA-256 of UTF-8 text.</summary>
    public static string Sha256Hex(string text) => Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes(text)));
}
