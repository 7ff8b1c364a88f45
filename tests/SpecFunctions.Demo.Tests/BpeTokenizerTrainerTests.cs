using System.Text;
using SpecFunctions.Demo;
using SpecFunctions.Onnx.Tokenizers;
using Xunit.Abstractions;

namespace SpecFunctions.Demo.Tests;

/// <summary>The trained vocabulary written once as tokenizer.json and loaded through the product's loader.</summary>
public sealed class BpeTokenizerFixture : IDisposable
{
    public BpeTokenizerFixture()
    {
        Vocabulary = BpeTokenizerTrainer.Train(DemoCorpus.Default);
        Folder = Directory.CreateTempSubdirectory("specfn-bpe-").FullName;
        Path = System.IO.Path.Combine(Folder, "tokenizer.json");
        File.WriteAllText(Path, Vocabulary.ToTokenizerJson());
        Tokenizer = HuggingFaceTokenizer.Load(Path);
    }

    public BpeVocabulary Vocabulary { get; }

    public string Folder { get; }

    public string Path { get; }

    public HuggingFaceTokenizer Tokenizer { get; }

    public void Dispose() => Directory.Delete(Folder, recursive: true);
}

public sealed class BpeTokenizerTrainerTests(BpeTokenizerFixture fixture, ITestOutputHelper output) : IClassFixture<BpeTokenizerFixture>
{
    public static TheoryData<string> Languages => [.. DemoCorpus.Default.Languages.Select(l => l.Id)];

    [Fact]
    public void Train_Default_FillsTheVocabularyWithBytesMergesAndEndOfText()
    {
        var vocabulary = fixture.Vocabulary;

        Assert.Equal(2048, vocabulary.Size);
        Assert.Equal(2047, vocabulary.EndOfTextId);
        Assert.Equal(2048 - 256 - 1, vocabulary.Merges.Count);
        Assert.Equal(0, vocabulary.Vocabulary["\u0100"]); // byte 0 in GPT-2's alphabet
        Assert.Equal(32, vocabulary.Vocabulary["\u0120"]); // the space is 'Ġ'
        Assert.Equal((int)'a', vocabulary.Vocabulary["a"]);
        Assert.Equal(2048, fixture.Tokenizer.VocabularySize);
    }

    [Fact]
    public void Train_SameCorpusTwice_IdenticalTokenizerJson()
    {
        var again = BpeTokenizerTrainer.Train(DemoCorpus.Default);

        Assert.Equal(fixture.Vocabulary.ToTokenizerJson(), again.ToTokenizerJson());
    }

    [Fact]
    public void Train_FirstMerges_AreTheCommonestPairs()
    {
        // Counted by hand-independent means: the most frequent adjacent byte pair inside pre-tokens of the corpus.
        var counts = new Dictionary<(byte, byte), int>();
        foreach (var document in DemoCorpus.Default.Languages.SelectMany(l => l.TrainingDocuments))
        {
            foreach (System.Text.RegularExpressions.Match match in System.Text.RegularExpressions.Regex.Matches(document, BpeTokenizerTrainer.PreTokenizerPattern))
            {
                var bytes = Encoding.UTF8.GetBytes(match.Value);
                for (var i = 0; i + 1 < bytes.Length; i++)
                {
                    counts[(bytes[i], bytes[i + 1])] = counts.GetValueOrDefault((bytes[i], bytes[i + 1])) + 1;
                }
            }
        }

        var top = counts.MaxBy(e => e.Value).Key;
        var (left, right) = fixture.Vocabulary.Merges[0];
        Assert.Equal(BpeTokenizerTrainer.ByteToChar[top.Item1].ToString(), left);
        Assert.Equal(BpeTokenizerTrainer.ByteToChar[top.Item2].ToString(), right);
    }

    [Theory]
    [MemberData(nameof(Languages))]
    public void RoundTrip_EveryCorpusLanguage_ExactTextAndFewerTokensThanBytes(string language)
    {
        var texts = DemoCorpus.Default[language].TrainingDocuments.Concat(DemoCorpus.Default[language].HeldOutPrompts).ToList();
        long bytes = 0, tokens = 0;
        foreach (var text in texts)
        {
            var ids = fixture.Tokenizer.Encode(text);
            Assert.Equal(text, fixture.Tokenizer.Decode(ids));
            Assert.All(ids, id => Assert.InRange(id, 0, fixture.Vocabulary.EndOfTextId - 1));
            bytes += Encoding.UTF8.GetByteCount(text);
            tokens += ids.Length;
        }

        var heldOutBytes = DemoCorpus.Default[language].HeldOutPrompts.Sum(p => Encoding.UTF8.GetByteCount(p));
        var heldOutTokens = DemoCorpus.Default[language].HeldOutPrompts.Sum(p => fixture.Tokenizer.Encode(p).Length);
        output.WriteLine($"{language}: {(double)bytes / tokens:F2} bytes/token overall, {(double)heldOutBytes / heldOutTokens:F2} on held-out prompts");

        // Byte-level BPE on its own training text: well above 1 byte per token in every script (CJK characters are 3 bytes).
        Assert.True((double)heldOutBytes / heldOutTokens >= 1.8, $"{language}: held-out prompts compress to only {(double)heldOutBytes / heldOutTokens:F2} bytes per token.");
    }

    [Fact]
    public void RoundTrip_TextOutsideTheCorpus_StillExact()
    {
        // Byte-level BPE has no unknown token: any UTF-8 text survives, emoji, Thai and control characters included.
        string[] texts = ["naïve café 😀 — ½", "สวัสดีครับ", "tab\tand\nnewline  double space"];

        foreach (var text in texts)
        {
            Assert.Equal(text, fixture.Tokenizer.Decode(fixture.Tokenizer.Encode(text)));
        }

        // The end-of-text marker in the text is the special token (one id), which decoding drops.
        Assert.Equal([fixture.Vocabulary.EndOfTextId], fixture.Tokenizer.Encode(BpeVocabulary.EndOfText));
    }

    [Fact]
    [Trait("Requires", "mgsm")]
    public void RoundTrip_MgsmLanguages_ExactText()
    {
        var files = Directory.GetFiles(TestConfigs.MgsmFolder, "mgsm_*.tsv");
        Assert.NotEmpty(files);
        foreach (var file in files)
        {
            long bytes = 0, tokens = 0;
            foreach (var line in File.ReadLines(file))
            {
                var question = line.Split('\t')[0];
                var ids = fixture.Tokenizer.Encode(question);
                Assert.Equal(question, fixture.Tokenizer.Decode(ids));
                bytes += Encoding.UTF8.GetByteCount(question);
                tokens += ids.Length;
            }

            output.WriteLine($"{System.IO.Path.GetFileName(file)}: {(double)bytes / tokens:F2} bytes/token");
            Assert.True(tokens > 0, $"{file} has no questions.");
        }
    }
}
