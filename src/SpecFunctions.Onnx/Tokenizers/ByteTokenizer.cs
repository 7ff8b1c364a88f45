using System.Text;

namespace SpecFunctions.Onnx.Tokenizers;

/// <summary>UTF-8 bytes are token ids 0..255; ids from 256 up are special tokens (never produced by <see cref="Encode"/>).</summary>
public sealed class ByteTokenizer : ITokenizer
{
    public const string KindName = "byte";

    public static ByteTokenizer Instance { get; } = new();

    public string Kind => KindName;

    public string Identity => KindName;

    public int[] Encode(string text)
    {
        ArgumentNullException.ThrowIfNull(text);
        var bytes = Encoding.UTF8.GetBytes(text);
        var ids = new int[bytes.Length];
        for (var i = 0; i < bytes.Length; i++)
        {
            ids[i] = bytes[i];
        }

        return ids;
    }

    /// <summary>Invalid UTF-8 (e.g. a generation cut inside a multi-byte character) decodes to U+FFFD.</summary>
    public string Decode(IEnumerable<int> ids)
    {
        ArgumentNullException.ThrowIfNull(ids);
        var bytes = new List<byte>();
        foreach (var id in ids)
        {
            ArgumentOutOfRangeException.ThrowIfNegative(id, nameof(ids));
            if (id < 256)
            {
                bytes.Add((byte)id);
            }
        }

        return Encoding.UTF8.GetString(bytes.ToArray());
    }
}
