using System.Text;
using System.Text.Json;
using SpecFunctions.Demo;

namespace SpecFunctions.Demo.Tests;

public sealed class DemoCorpusTests
{
    [Fact]
    public void Default_Languages_AtLeastSixInThreeScripts()
    {
        var languages = DemoCorpus.Default.Languages;

        Assert.True(languages.Count >= 6);
        Assert.True(languages.Select(l => l.Script).Distinct().Count() >= 3);
        Assert.Equal(languages.Count, languages.Select(l => l.Id).Distinct().Count());
    }

    [Fact]
    public void Default_EachLanguage_HasTrainingTextAndTwentyHeldOutPrompts()
    {
        foreach (var language in DemoCorpus.Default.Languages)
        {
            Assert.InRange(language.TrainingBytes, 6_000, 40_000);
            Assert.InRange(language.HeldOutPrompts.Count, 20, 40);
            var training = string.Join("\n", language.TrainingDocuments);
            foreach (var prompt in language.HeldOutPrompts)
            {
                Assert.DoesNotContain(prompt, training, StringComparison.Ordinal);
            }
        }

        Assert.True(DemoCorpus.Default.Languages.Sum(l => l.TrainingBytes) < 300_000);
    }

    [Fact]
    public void Default_NonLatinLanguages_AreMostlyMultiByte()
    {
        // Guards against a mis-encoded resource: Russian and Chinese text is 2–3 UTF-8 bytes per letter.
        foreach (var id in new[] { "ru", "zh" })
        {
            var text = string.Join("", DemoCorpus.Default[id].TrainingDocuments);
            Assert.True(Encoding.UTF8.GetByteCount(text) > 1.7 * text.Length, id);
        }
    }

    [Fact]
    public void Indexer_UnknownId_ThrowsListingKnownIds()
    {
        var error = Assert.Throws<KeyNotFoundException>(() => DemoCorpus.Default["xx"]);

        Assert.Contains("en", error.Message);
    }

    [Fact]
    public void WriteSuite_Json_HasOneTaskPerLanguageWithItsPrompts()
    {
        using var buffer = new MemoryStream();

        DemoCorpus.WriteSuite(buffer);

        using var document = JsonDocument.Parse(buffer.ToArray());
        Assert.Equal("demo", document.RootElement.GetProperty("name").GetString());
        var tasks = document.RootElement.GetProperty("tasks").EnumerateArray().ToArray();
        Assert.Equal(DemoCorpus.Default.Languages.Select(l => l.Id), tasks.Select(t => t.GetProperty("id").GetString()));
        var zh = tasks.Single(t => t.GetProperty("id").GetString() == "zh");
        Assert.Equal(DemoCorpus.Default["zh"].HeldOutPrompts, zh.GetProperty("prompts").EnumerateArray().Select(p => p.GetString()));
    }

    [Fact]
    public void Hash_Default_StableAcrossCalls()
    {
        Assert.Matches("^[0-9a-f]{64}$", DemoCorpus.Default.Hash);
        Assert.NotEqual(DemoModels.ComputeCacheKey(DemoCorpus.Default, 1), DemoModels.ComputeCacheKey(DemoCorpus.Default, 2));
        Assert.Equal(DemoModels.ComputeCacheKey(DemoCorpus.Default, 1), DemoModels.ComputeCacheKey(DemoCorpus.Default, 1));
    }

    [Theory]
    [InlineData("en")]
    [InlineData("ru")]
    [InlineData("zh")]
    public void TrainingPrompts_Language_OpeningsOfDistinctTrainingDocumentsNotHeldOut(string id)
    {
        var language = DemoCorpus.Default[id];

        var prompts = DemoCorpus.TrainingPrompts(id, 40, 80);

        Assert.Equal(Math.Min(40, language.TrainingDocuments.Count), prompts.Count);
        Assert.All(prompts, p =>
        {
            Assert.InRange(p.Length, 1, 80);
            Assert.Contains(language.TrainingDocuments, d => d.StartsWith(p, StringComparison.Ordinal));
            Assert.DoesNotContain(language.HeldOutPrompts, h => h.StartsWith(p, StringComparison.Ordinal) || p.StartsWith(h, StringComparison.Ordinal));
            Assert.False(char.IsHighSurrogate(p[^1]));
        });
        Assert.True(prompts.Distinct().Count() >= prompts.Count - 2, "prompts should come from different documents");
    }

    [Fact]
    public void TrainingPrompts_UnknownLanguage_ThrowsListingKnownIds()
    {
        var error = Assert.Throws<KeyNotFoundException>(() => DemoCorpus.TrainingPrompts("xx"));

        Assert.Contains("en", error.Message, StringComparison.Ordinal);
    }
}
