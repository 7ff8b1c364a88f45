using System.Text.Json.Nodes;
using SpecFunctions.Onnx.Tokenizers;

namespace SpecFunctions.Onnx.Tests;

// SentencePiece-style BPE with byte fallback (the Llama 2 / Mistral tokenizer.json scheme) on a hand-made vocabulary;
// ids worked out by hand below. The real Llama export is checked against ONNX Runtime GenAI's ids in the conformance tests.
public sealed class SentencePieceBpeTests : IDisposable
{
    private readonly TempFolder _temp = new();

    public void Dispose() => _temp.Dispose();

    // <unk> <s> </s>, the 256 byte tokens <0x00>..<0xFF> at ids 3..258, then ▁ h e l o ▁h ll ▁he llo w (259..268).
    // Merges by rank: "▁ h", "l l", "▁h e", "ll o".
    private static string Json()
    {
        var vocab = new JsonObject { ["<unk>"] = 0, ["<s>"] = 1, ["</s>"] = 2 };
        for (var b = 0; b < 256; b++)
        {
            vocab[$"<0x{b:X2}>"] = 3 + b;
        }

        string[] pieces = ["▁", "h", "e", "l", "o", "▁h", "ll", "▁he", "llo", "w"];
        for (var i = 0; i < pieces.Length; i++)
        {
            vocab[pieces[i]] = 259 + i;
        }

        var added = new JsonArray();
        foreach (var (content, id) in new[] { ("<unk>", 0), ("<s>", 1), ("</s>", 2) })
        {
            added.Add(new JsonObject { ["id"] = id, ["content"] = content, ["special"] = true });
        }

        return new JsonObject
        {
            ["version"] = "1.0",
            ["added_tokens"] = added,
            ["normalizer"] = new JsonObject
            {
                ["type"] = "Sequence",
                ["normalizers"] = new JsonArray(
                    new JsonObject { ["type"] = "Prepend", ["prepend"] = "▁" },
                    new JsonObject { ["type"] = "Replace", ["pattern"] = new JsonObject { ["String"] = " " }, ["content"] = "▁" }),
            },
            ["pre_tokenizer"] = null,
            ["model"] = new JsonObject
            {
                ["type"] = "BPE", ["unk_token"] = "<unk>", ["fuse_unk"] = true, ["byte_fallback"] = true, ["vocab"] = vocab,
                ["merges"] = new JsonArray("▁ h", "l l", "▁h e", "ll o"),
            },
        }.ToJsonString();
    }

    [Theory]
    [InlineData("hello", new[] { 266, 267 })] // ▁ h e l l o → ▁h e l l o → ▁h e ll o → ▁he ll o → ▁he llo
    [InlineData("hé wo", new[] { 264, 198, 172, 259, 268, 263 })] // é is not in the vocabulary: its UTF-8 bytes C3 A9 (ids 3 + 0xC3, 3 + 0xA9)
    [InlineData("he<s>lo", new[] { 266, 1, 259, 262, 263 })] // the added token cuts the text; each piece gets its own ▁
    [InlineData("", new int[0])]
    public void Encode_ByteFallbackBpe_MergesKnownRunsAndFallsBackToBytes(string text, int[] expected)
    {
        var tokenizer = Load();

        Assert.Equal(expected, tokenizer.Encode(text));
    }

    [Fact]
    public void Decode_ByteFallbackBpe_JoinsBytesSkipsSpecialIdsAndStripsTheLeadingSpace()
    {
        var tokenizer = Load();

        Assert.Equal("heé", tokenizer.Decode([266, 198, 172]));
        Assert.Equal("hello", tokenizer.Decode([1, 266, 267, 2]));
        Assert.Equal("hé wo", tokenizer.Decode(tokenizer.Encode("hé wo")));
        Assert.Equal("SentencePiece BPE (byte fallback)", tokenizer.Scheme);
        Assert.Equal(269, tokenizer.VocabularySize);
    }

    [Fact]
    public void Load_ByteFallbackWithAnotherNormalizer_ThrowsNamingIt()
    {
        var json = JsonNode.Parse(Json())!;
        json["normalizer"] = new JsonObject { ["type"] = "NFKC" };
        var path = _temp.Sub("nfkc.json");
        File.WriteAllText(path, json.ToJsonString());

        var error = Assert.Throws<ModelLoadException>(() => HuggingFaceTokenizer.Load(path));

        Assert.Contains("unsupported tokenizer.json: byte_fallback BPE with normalizer 'NFKC'", error.Message, StringComparison.Ordinal);
    }

    private HuggingFaceTokenizer Load()
    {
        var path = _temp.Sub("tokenizer.json");
        File.WriteAllText(path, Json());
        return HuggingFaceTokenizer.Load(path);
    }
}
