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
