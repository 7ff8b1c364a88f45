using System.Text;
using System.Text.Json;
using Microsoft.ML.Tokenizers;

namespace SpecFunctions.Onnx.Tokenizers;

/// <summary>
/// SentencePiece-style BPE from a <c>tokenizer.json</c> (Llama 2, Mistral, TinyLlama, Vicuna): normaliser
/// <c>Prepend("▁")</c> + <c>Replace(" ", "▁")</c>, no pre-tokenizer (the whole text is one word), merges by rank, and
/// <c>byte_fallback</c>: a character the vocabulary lacks becomes the byte tokens <c>&lt;0xNN&gt;</c> of its UTF-8 form.
/// The merges run in <c>Microsoft.ML.Tokenizers</c>' <see cref="BpeTokenizer"/> over the runs of known characters
/// (a byte token never takes part in a merge, so cutting the text at unknown characters changes nothing); added tokens
/// are split off first and each remaining piece is normalised on its own, as Hugging Face tokenizers do.
/// </summary>
internal sealed class SentencePieceBpe
{
    private const char Space = '\u2581';

    private readonly BpeTokenizer _bpe;
    private readonly Dictionary<string, int> _vocabulary;
    private readonly string?[] _pieces;
    private readonly int[] _byteIds = new int[256];
    private readonly (string Content, int Id)[] _added;
    private readonly bool _prepend;

    private SentencePieceBpe(BpeTokenizer bpe, Dictionary<string, int> vocabulary, (string, int)[] added, bool prepend)
    {
        _bpe = bpe;
        _vocabulary = vocabulary;
        _added = added;
        _prepend = prepend;
        _pieces = new string?[vocabulary.Values.Max() + 1];
        foreach (var (piece, id) in vocabulary)
        {
            _pieces[id] = piece;
        }

        for (var b = 0; b < 256; b++)
        {
            _byteIds[b] = vocabulary.TryGetValue($"<0x{b:X2}>", out var id)
                ? id
                : throw new FormatException($"byte_fallback vocabulary lacks the byte token <0x{b:X2}>");
        }
    }

    /// <summary>Reads the parts of a byte-fallback BPE; throws <see cref="NotSupportedException"/> for any other normaliser or a pre-tokenizer.</summary>
    public static SentencePieceBpe FromJson(JsonElement root, Dictionary<string, int> vocabulary, List<string> merges, Dictionary<string, int> added)
    {
        if (root.TryGetProperty("pre_tokenizer", out var pre) && pre.ValueKind != JsonValueKind.Null)
        {
            throw new NotSupportedException($"byte_fallback BPE with a pre-tokenizer ({pre.GetProperty("type").GetString()}; Metaspace-style files are not supported yet)");
        }

        var prepend = false;
        if (root.TryGetProperty("normalizer", out var normalizer) && normalizer.ValueKind == JsonValueKind.Object)
        {
            var steps = normalizer.GetProperty("type").GetString() == "Sequence" ? [.. normalizer.GetProperty("normalizers").EnumerateArray()] : new List<JsonElement> { normalizer };
            foreach (var step in steps)
            {
                switch (step.GetProperty("type").GetString())
                {
                    case "Prepend" when step.GetProperty("prepend").GetString() == Space.ToString():
                        prepend = true;
                        break;
                    case "Replace" when step.GetProperty("pattern").TryGetProperty("String", out var from) && from.GetString() == " "
                        && step.GetProperty("content").GetString() == Space.ToString():
                        break;
                    case var other:
                        throw new NotSupportedException($"byte_fallback BPE with normalizer '{other}'");
                }
            }
        }
        else
        {
            throw new NotSupportedException("byte_fallback BPE without the Prepend/Replace('▁') normalizer");
        }

        var model = root.GetProperty("model");
        var unknown = model.TryGetProperty("unk_token", out var unk) && unk.ValueKind == JsonValueKind.String ? unk.GetString() : null;
        var bpe = BpeTokenizer.Create(new BpeOptions(vocabulary) { Merges = merges, UnknownToken = unknown });
        return new SentencePieceBpe(bpe, vocabulary, [.. added.OrderByDescending(a => a.Key.Length).Select(a => (a.Key, a.Value))], prepend);
    }

    public int[] Encode(string text)
    {
        var ids = new List<int>();
        var start = 0;
        while (start < text.Length)
        {
            // The next added token (longest first at the same position) cuts the text.
            var (at, content, tokenId) = (text.Length, string.Empty, 0);
            foreach (var candidate in _added)
            {
                var index = text.IndexOf(candidate.Content, start, StringComparison.Ordinal);
                if (index >= 0 && index < at)
                {
                    (at, content, tokenId) = (index, candidate.Content, candidate.Id);
                }
            }

            EncodePiece(text.AsSpan(start, at - start), ids);
            if (at == text.Length)
            {
                break;
            }

            ids.Add(tokenId);
            start = at + content.Length;
        }

        return [.. ids];
    }

    public string Decode(IEnumerable<int> ids)
    {
        var bytes = new List<byte>();
        foreach (var id in ids)
        {
            var piece = id >= 0 && id < _pieces.Length ? _pieces[id] : null;
            if (piece is null)
            {
                continue;
            }

            if (piece.Length == 6 && piece.StartsWith("<0x", StringComparison.Ordinal) && piece[5] == '>'
                && byte.TryParse(piece.AsSpan(3, 2), System.Globalization.NumberStyles.HexNumber, null, out var b))
            {
                bytes.Add(b);
                continue;
            }

            bytes.AddRange(Encoding.UTF8.GetBytes(piece.Replace(Space, ' ')));
        }

        var text = Encoding.UTF8.GetString([.. bytes]);

        // The decoder's Strip(start: 1): the space the normaliser put before the text.
        return _prepend && text.StartsWith(' ') ? text[1..] : text;
    }

    private void EncodePiece(ReadOnlySpan<char> piece, List<int> ids)
    {
        if (piece.IsEmpty)
        {
            return;
        }

        var normalized = (_prepend ? Space.ToString() : string.Empty) + piece.ToString().Replace(' ', Space);
        var run = new StringBuilder();
        Span<byte> utf8 = stackalloc byte[4];
        foreach (var rune in normalized.EnumerateRunes())
        {
            var character = rune.ToString();
            if (_vocabulary.ContainsKey(character))
            {
                run.Append(character);
                continue;
            }

            Flush(run, ids);
            var length = rune.EncodeToUtf8(utf8);
            for (var i = 0; i < length; i++)
            {
                ids.Add(_byteIds[utf8[i]]);
            }
        }

        Flush(run, ids);
    }

    private void Flush(StringBuilder run, List<int> ids)
    {
        if (run.Length > 0)
        {
            ids.AddRange(_bpe.EncodeToIds(run.ToString(), considerPreTokenization: false, considerNormalization: false));
            run.Clear();
        }
    }
}
