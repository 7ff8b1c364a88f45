using System.Reflection;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using System.Text.Json.Serialization;

namespace SpecFunctions.Demo;

/// <summary>One language of the demo corpus.</summary>
/// <param name="Id">Task id, e.g. <c>en</c>.</param>
/// <param name="Name">English name, e.g. <c>Russian</c>.</param>
/// <param name="Script">Writing system, e.g. <c>Cyrillic</c>.</param>
/// <param name="TrainingDocuments">Training texts (one paragraph, story or dialogue each; no line breaks inside).</param>
/// <param name="HeldOutPrompts">Evaluation prompts: opening sentences of paragraphs that are not in the training texts.</param>
public sealed record DemoLanguage(
    string Id,
    string Name,
    string Script,
    IReadOnlyList<string> TrainingDocuments,
    IReadOnlyList<string> HeldOutPrompts)
{
    /// <summary>Size of the training text in UTF-8 bytes (documents plus their line ends).</summary>
    public int TrainingBytes => TrainingDocuments.Sum(d => Encoding.UTF8.GetByteCount(d) + 1);
}

/// <summary>A task of the demo suite: one language's held-out prompts.</summary>
public sealed record DemoTask(
    [property: JsonPropertyName("id")] string Id,
    [property: JsonPropertyName("prompts")] IReadOnlyList<string> Prompts);

/// <summary>
/// The project's own multilingual corpus (original text written for SpecFunctions: everyday prose, short stories,
/// instructions, dialogues, arithmetic word problems), embedded in this assembly as
/// <c>Corpus/&lt;id&gt;.train.txt</c> (one document per line) and <c>Corpus/&lt;id&gt;.prompts.txt</c> (one held-out
/// prompt per line).
/// </summary>
public sealed class DemoCorpus
{
    private const string ResourcePrefix = "SpecFunctions.Demo.Corpus.";

    private static readonly (string Id, string Name, string Script)[] Catalogue =
    [
        ("en", "English", "Latin"),
        ("es", "Spanish", "Latin"),
        ("fr", "French", "Latin"),
        ("de", "German", "Latin"),
        ("ru", "Russian", "Cyrillic"),
        ("zh", "Chinese", "Han"),
    ];

    private static readonly Lazy<DemoCorpus> LazyDefault = new(LoadEmbedded);

    private DemoCorpus(IReadOnlyList<DemoLanguage> languages, string hash)
    {
        Languages = languages;
        Hash = hash;
    }

    /// <summary>The embedded corpus.</summary>
    public static DemoCorpus Default => LazyDefault.Value;

    /// <summary>The corpus as suite tasks: per language its id and held-out prompts.</summary>
    public static IReadOnlyList<DemoTask> Tasks => Default.Languages.Select(l => new DemoTask(l.Id, l.HeldOutPrompts)).ToArray();

    /// <summary>
    /// Training prompts of a language for mitigation: the opening segment (first sentence, at most
    /// <paramref name="maxChars"/> characters, cut at a word boundary) of <paramref name="count"/> training documents
    /// spread evenly over the language's documents. They come from the training text, never from the held-out prompts,
    /// so corrective data and evaluation stay apart.
    /// </summary>
    /// <param name="languageId">Language id, e.g. <c>fr</c>.</param>
    /// <param name="count">How many prompts (at most the number of training documents). Default 40.</param>
    /// <param name="maxChars">Longest prompt in UTF-16 characters. Default 80.</param>
    /// <exception cref="KeyNotFoundException">Unknown language.</exception>
    public static IReadOnlyList<string> TrainingPrompts(string languageId, int count = 40, int maxChars = 80)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(count, 1);
        ArgumentOutOfRangeException.ThrowIfLessThan(maxChars, 8);
        var documents = Default[languageId].TrainingDocuments;
        var n = Math.Min(count, documents.Count);
        var prompts = new List<string>(n);
        for (var i = 0; i < n; i++)
        {
            prompts.Add(OpeningSegment(documents[(int)((long)i * documents.Count / n)], maxChars));
        }

        return prompts;
    }

    private static string OpeningSegment(string document, int maxChars)
    {
        // End after the first sentence mark (Latin, Cyrillic or CJK), else at the length limit on a space.
        var end = document.IndexOfAny(['.', '!', '?', '。', '！', '？']);
        var text = end >= 0 && end + 1 <= maxChars ? document[..(end + 1)] : document[..Math.Min(document.Length, maxChars)];
        if (text.Length == maxChars && text.Length < document.Length)
        {
            var space = text.LastIndexOf(' ');
            text = space > maxChars / 2 ? text[..space] : text;
            if (char.IsHighSurrogate(text[^1]))
            {
                text = text[..^1];
            }
        }

        return text;
    }

    /// <summary>Languages in catalogue order.</summary>
    public IReadOnlyList<DemoLanguage> Languages { get; }

    /// <summary>SHA-256 (hex) of every corpus file, in catalogue order: part of the model cache key.</summary>
    public string Hash { get; }

    /// <summary>The language with <paramref name="id"/>.</summary>
    /// <exception cref="KeyNotFoundException">No such language; the message lists the known ids.</exception>
    public DemoLanguage this[string id] =>
        Languages.FirstOrDefault(l => l.Id == id)
        ?? throw new KeyNotFoundException($"The demo corpus has no language '{id}' (known: {string.Join(", ", Languages.Select(l => l.Id))}).");

    /// <summary>Writes the suite JSON <c>{ "name": "demo", "tasks": [ { "id", "prompts" } ] }</c>.</summary>
    public static void WriteSuite(Stream stream, string name = "demo")
    {
        ArgumentNullException.ThrowIfNull(stream);
        var suite = new DemoSuite(name, Tasks);
        JsonSerializer.Serialize(stream, suite, SuiteJsonOptions);
    }

    /// <summary>Writes the suite JSON to <paramref name="path"/> (creating its folder).</summary>
    public static void WriteSuite(string path, string name = "demo")
    {
        var folder = Path.GetDirectoryName(Path.GetFullPath(path));
        if (folder is not null)
        {
            Directory.CreateDirectory(folder);
        }

        using var stream = File.Create(path);
        WriteSuite(stream, name);
    }

    private static readonly JsonSerializerOptions SuiteJsonOptions = new()
    {
        WriteIndented = true,
        Encoder = System.Text.Encodings.Web.JavaScriptEncoder.UnsafeRelaxedJsonEscaping,
    };

    private sealed record DemoSuite(
        [property: JsonPropertyName("name")] string Name,
        [property: JsonPropertyName("tasks")] IReadOnlyList<DemoTask> Tasks);

    private static DemoCorpus LoadEmbedded()
    {
        var assembly = typeof(DemoCorpus).Assembly;
        using var sha = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
        var languages = new List<DemoLanguage>();
        foreach (var (id, name, script) in Catalogue)
        {
            var train = ReadResource(assembly, $"{id}.train.txt", sha);
            var prompts = ReadResource(assembly, $"{id}.prompts.txt", sha);
            languages.Add(new DemoLanguage(id, name, script, Lines(train), Lines(prompts)));
        }

        return new DemoCorpus(languages, Convert.ToHexStringLower(sha.GetHashAndReset()));
    }

    private static string ReadResource(Assembly assembly, string file, IncrementalHash sha)
    {
        using var stream = assembly.GetManifestResourceStream(ResourcePrefix + file)
            ?? throw new InvalidOperationException($"Demo corpus file '{file}' is not embedded in {assembly.GetName().Name}.");
        using var buffer = new MemoryStream();
        stream.CopyTo(buffer);
        var bytes = buffer.ToArray();
        sha.AppendData(Encoding.UTF8.GetBytes(file));
        sha.AppendData(bytes);
        return Encoding.UTF8.GetString(bytes);
    }

    private static string[] Lines(string text) =>
        text.Split('\n').Select(l => l.TrimEnd('\r').Trim()).Where(l => l.Length > 0 && !l.StartsWith('#')).ToArray();
}
