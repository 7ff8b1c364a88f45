using System.Text.Json.Nodes;
using SpecFunctions.Onnx.Tokenizers;

namespace SpecFunctions.Onnx.Tests;

public sealed class TokenizerTests : IDisposable
{
    // A byte-level BPE (GPT-2 style) with nine merges; 'Ġ' is the byte-level form of a space.
    internal const string TinyBpeJson = """
        {
          "version": "1.0",
          "added_tokens": [ { "id": 17, "content": "<|endoftext|>", "special": true } ],
          "normalizer": null,
          "pre_tokenizer": { "type": "ByteLevel", "add_prefix_space": false, "trim_offsets": true, "use_regex": true },
          "decoder": { "type": "ByteLevel" },
          "model": {
            "type": "BPE",
            "vocab": { "h": 0, "e": 1, "l": 2, "o": 3, "w": 4, "r": 5, "d": 6, "Ġ": 7, "he": 8, "ll": 9, "hell": 10,
                       "hello": 11, "Ġhello": 12, "Ġw": 13, "or": 14, "Ġwor": 15, "ld": 16 },
            "merges": [ "h e", "l l", "he ll", "hell o", "Ġ hello", "Ġ w", "o r", "Ġw or", "l d" ]
          }
        }
        """;

    private readonly TempFolder _temp = new();

    public void Dispose() => _temp.Dispose();

    [Theory]
    [InlineData("hello", new[] { 11 })]
    [InlineData("hello world hello", new[] { 11, 15, 16, 12 })]
    [InlineData("world", new[] { 4, 14, 16 })]
    [InlineData("hello<|endoftext|>", new[] { 11, 17 })]
    public void Encode_ByteLevelBpe_AppliesMergesByRank(string text, int[] expected)
    {
        var tokenizer = HuggingFaceTokenizer.Load(Write("tokenizer.json", TinyBpeJson));

        Assert.Equal(expected, tokenizer.Encode(text));
    }

    [Fact]
    public void Decode_ByteLevelBpe_RestoresTextAndSkipsSpecialTokens()
    {
        var tokenizer = HuggingFaceTokenizer.Load(Write("tokenizer.json", TinyBpeJson));

        Assert.Equal("hello world hello", tokenizer.Decode([11, 15, 17, 16, 12]));
        Assert.Equal(18, tokenizer.VocabularySize);
    }

    [Fact]
    public void Load_MergesAsPairs_SameIdsAndIdentityAsStringMerges()
    {
        var json = JsonNode.Parse(TinyBpeJson)!;
        var pairs = new JsonArray();
        foreach (var merge in json["model"]!["merges"]!.AsArray())
        {
            var parts = merge!.GetValue<string>().Split(' ');
            pairs.Add(new JsonArray(parts[0], parts[1]));
        }

        json["model"]!["merges"] = pairs;
        var fromPairs = HuggingFaceTokenizer.Load(Write("pairs.json", json.ToJsonString()));
        var fromStrings = HuggingFaceTokenizer.Load(Write("strings.json", TinyBpeJson));

        Assert.Equal(fromStrings.Encode("hello world hello"), fromPairs.Encode("hello world hello"));
    }

    [Fact]
    public void Identity_ReformattedFile_Unchanged_DifferentMerges_Changed()
    {
        var original = HuggingFaceTokenizer.Load(Write("a.json", TinyBpeJson));
        var reformatted = HuggingFaceTokenizer.Load(Write("b.json", JsonNode.Parse(TinyBpeJson)!.ToJsonString()));
        var changed = HuggingFaceTokenizer.Load(Write("c.json", TinyBpeJson.Replace(", \"l d\" ]", " ]", StringComparison.Ordinal)));

        Assert.Equal(original.Identity, reformatted.Identity);
        Assert.NotEqual(original.Identity, changed.Identity);
        Assert.StartsWith("hf-tokenizer-json:sha256:", original.Identity);
    }

    [Fact]
    public void Load_SentencePieceStyleTokenizer_ThrowsNamingUnsupportedPart()
    {
        var json = JsonNode.Parse(TinyBpeJson)!;
        json["pre_tokenizer"] = new JsonObject { ["type"] = "Metaspace", ["replacement"] = "▁" };
        var path = Write("metaspace.json", json.ToJsonString());

        var error = Assert.Throws<ModelLoadException>(() => HuggingFaceTokenizer.Load(path));

        Assert.Equal(path, error.Path);
        Assert.Contains("unsupported tokenizer.json: pre-tokenizer 'Metaspace'", error.Message);
    }

    [Fact]
    public void Load_NotJson_ThrowsNamingFile()
    {
        var path = Write("broken.json", "{ not json");

        var error = Assert.Throws<ModelLoadException>(() => HuggingFaceTokenizer.Load(path));

        Assert.Equal(path, error.Path);
        Assert.Contains("not valid JSON", error.Message);
    }

    [Theory]
    [InlineData("", new int[0])]
    [InlineData("Hi", new[] { 72, 105 })]
    [InlineData("é€", new[] { 0xC3, 0xA9, 0xE2, 0x82, 0xAC })]
    public void ByteTokenizer_Encode_ReturnsUtf8Bytes(string text, int[] expected)
    {
        Assert.Equal(expected, ByteTokenizer.Instance.Encode(text));
        Assert.Equal(text, ByteTokenizer.Instance.Decode(expected));
    }

    [Fact]
    public void ByteTokenizer_Decode_SkipsSpecialIdsAndReplacesCutCharacter()
    {
        Assert.Equal("Hi", ByteTokenizer.Instance.Decode([256, 72, 105, 257]));
        Assert.Equal("a\uFFFD", ByteTokenizer.Instance.Decode([97, 0xE2, 0x82]));
    }

    private string Write(string name, string content)
    {
        var path = _temp.Sub(name);
        File.WriteAllText(path, content);
        return path;
    }
}
