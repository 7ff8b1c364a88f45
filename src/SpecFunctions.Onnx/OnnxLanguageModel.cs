using System.Security.Cryptography;
using System.Text.Json;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.ML.OnnxRuntime;
using SpecFunctions.Core.Models;
using SpecFunctions.Onnx.Tokenizers;

namespace SpecFunctions.Onnx;

/// <summary>
/// A model folder (<c>specfn-model.json</c>, <c>model.onnx</c> + external data, tokenizer) run by ONNX Runtime.
/// Thread-safe; each <see cref="IModelSequence"/> holds its own state. Dispose to release the native session.
/// </summary>
public abstract class OnnxLanguageModel : ILanguageModel
{
    public const string StatelessFormat = ModelManifest.StatelessFormat;
    public const string DecoderWithPastFormat = ModelManifest.DecoderWithPastFormat;

    private readonly Lazy<string> _identity;

    private protected OnnxLanguageModel(ModelContext context)
    {
        Manifest = context.Manifest;
        Folder = context.Folder;
        ModelPath = context.ModelPath;
        Tokenizer = context.Tokenizer;
        _identity = context.Identity;
        Session = context.Session;
        ExecutionProvider = context.ExecutionProvider;
        Options = context.Options;
    }

    public ModelManifest Manifest { get; }

    /// <summary>Full path of the model folder.</summary>
    public string Folder { get; }

    /// <summary>Full path of the ONNX file.</summary>
    public string ModelPath { get; }

    public ITokenizer Tokenizer { get; }

    /// <summary>
    /// <c>sha256:…</c> over the manifest, tokenizer file, ONNX file and its external data (file names and bytes), computed
    /// on first read: hosts that identify models by their whole folder (the orchestration's <c>ModelFolderHash</c>) do not
    /// pay for a second pass over multi-gigabyte weights at load.
    /// </summary>
    public string Identity => _identity.Value;

    /// <summary>The execution provider the session actually uses (<c>CPUExecutionProvider</c> or <c>CUDAExecutionProvider</c>); runs report it.</summary>
    public string ExecutionProvider { get; }

    public string Name => Manifest.Name;

    public int VocabularySize => Manifest.VocabularySize;

    public int ContextLength => Manifest.ContextLength;

    internal InferenceSession Session { get; }

    /// <summary>The options the model was loaded with.</summary>
    internal OnnxModelOptions Options { get; }

    /// <summary>
    /// Loads a model folder (<see cref="ModelFolder.Describe"/>). Any problem with the folder (missing or corrupt file, no
    /// manifest nor a configuration to derive one from, manifest missing fields, graph not matching
    /// the manifest's <c>format</c>, a required device that cannot be loaded) throws <see cref="ModelLoadException"/>.
    /// </summary>
    /// <param name="folder">The model folder.</param>
    /// <param name="options">Session options; default CPU.</param>
    /// <param name="logger">Receives the device-fallback warning; default none.</param>
    public static OnnxLanguageModel Load(string folder, OnnxModelOptions? options = null, ILogger? logger = null)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(folder);
        options ??= OnnxModelOptions.Default;
        options.Validate();
        logger ??= NullLogger.Instance;

        var fullFolder = Path.GetFullPath(folder);
        if (!Directory.Exists(fullFolder))
        {
            throw new ModelLoadException(fullFolder, "model folder not found");
        }

        var description = ModelFolder.Describe(fullFolder, options.TokenizerFile);
        var manifest = description.Manifest;
        var modelPath = ResolveInFolder(fullFolder, manifest.ModelFile, "modelFile");
        var tokenizer = description.Tokenizer;
        var identity = new Lazy<string>(() => ComputeIdentity(description));
        var (session, provider) = OnnxSessionFactory.Create(modelPath, options, logger);
        var context = new ModelContext(manifest, fullFolder, modelPath, tokenizer, identity, session, provider, options);
        try
        {
            OnnxLanguageModel model = manifest.Format switch
            {
                StatelessFormat => new StatelessOnnxModel(context),
                _ => new DecoderWithPastOnnxModel(context),
            };
            logger.ModelLoaded(manifest.Name, manifest.Format, manifest.VocabularySize, fullFolder, provider);
            return model;
        }
        catch
        {
            session.Dispose();
            throw;
        }
    }

    /// <summary>Reads and validates <c>specfn-model.json</c> in <paramref name="folder"/>.</summary>
    public static ModelManifest ReadManifest(string folder)
    {
        var path = Path.Combine(folder, ModelManifest.FileName);
        if (!File.Exists(path))
        {
            throw new ModelLoadException(path, "manifest not found");
        }

        ModelManifest? manifest;
        try
        {
            manifest = JsonSerializer.Deserialize<ModelManifest>(File.ReadAllBytes(path));
        }
        catch (JsonException ex)
        {
            // System.Text.Json names the missing required properties ("missing required properties including: 'format'").
            throw new ModelLoadException(path, $"invalid manifest: {ex.Message}", ex);
        }

        if (manifest is null)
        {
            throw new ModelLoadException(path, "invalid manifest: empty (null)");
        }

        Validate(manifest, path);
        ResolveInFolder(folder, manifest.ModelFile, "modelFile");
        if (manifest.TokenizerFile is not null)
        {
            ResolveInFolder(folder, manifest.TokenizerFile, "tokenizerFile");
        }

        return manifest;
    }

    /// <summary>
    /// The full path of a file a manifest names, which must lie inside <paramref name="folder"/>: a relative path without
    /// <c>..</c>, and no symbolic link on the way that leads out of the folder. The folder's hash
    /// (<c>ModelFolderHash</c>) covers exactly the files inside it, so a model read from elsewhere would run under an
    /// identity that does not describe it.
    /// </summary>
    /// <exception cref="ModelLoadException">The path leaves the folder.</exception>
    public static string ResolveInFolder(string folder, string relative, string field)
    {
        ArgumentNullException.ThrowIfNull(relative);
        var root = Path.GetFullPath(folder);
        var inside = root.TrimEnd(Path.DirectorySeparatorChar) + Path.DirectorySeparatorChar;
        var manifestPath = Path.Combine(root, ModelManifest.FileName);
        var parts = relative.Split('/', '\\');
        var full = Path.GetFullPath(Path.Combine(root, relative));
        if (relative.Length == 0 || Path.IsPathRooted(relative) || parts.Contains("..")
            || !full.StartsWith(inside, StringComparison.Ordinal))
        {
            throw new ModelLoadException(manifestPath, $"invalid manifest: '{field}' must be a relative path inside the model folder, got '{relative}'");
        }

        var current = root;
        foreach (var part in Path.GetRelativePath(root, full).Split(Path.DirectorySeparatorChar))
        {
            current = Path.Combine(current, part);
            var info = new FileInfo(current);
            if (info.LinkTarget is null)
            {
                continue;
            }

            var target = info.ResolveLinkTarget(returnFinalTarget: true)?.FullName;
            if (target is null || !Path.GetFullPath(target).StartsWith(inside, StringComparison.Ordinal))
            {
                throw new ModelLoadException(
                    manifestPath,
                    $"invalid manifest: '{field}' '{relative}' goes through the symbolic link '{Path.GetRelativePath(root, current)}' to '{target ?? info.LinkTarget}', outside the model folder; copy the file into the folder");
            }
        }

        return full;
    }

    public abstract IModelSequence CreateSequence();

    public void Dispose()
    {
        Dispose(true);
        GC.SuppressFinalize(this);
    }

    protected virtual void Dispose(bool disposing)
    {
        if (disposing)
        {
            Session.Dispose();
        }
    }

    private protected void ThrowFormatMismatch(string cause) =>
        throw new ModelLoadException(ModelPath, $"graph does not match format '{Manifest.Format}': {cause}");

    private protected static string Describe(IReadOnlyDictionary<string, NodeMetadata> nodes) =>
        string.Join(", ", nodes.Select(n => $"{n.Key} {n.Value.ElementDataType}[{string.Join(",", n.Value.Dimensions)}]"));

    private static void Validate(ModelManifest manifest, string path)
    {
        string? problem = null;
        if (string.IsNullOrWhiteSpace(manifest.Name))
        {
            problem = "'name' is empty";
        }
        else if (manifest.VocabularySize <= 0)
        {
            problem = $"'vocabularySize' must be > 0, got {manifest.VocabularySize}";
        }
        else if (manifest.ContextLength <= 0)
        {
            problem = $"'contextLength' must be > 0, got {manifest.ContextLength}";
        }
        else if (manifest.Format is not (StatelessFormat or DecoderWithPastFormat))
        {
            problem = $"'format' must be '{StatelessFormat}' or '{DecoderWithPastFormat}', got '{manifest.Format}'";
        }
        else if (manifest.Format == StatelessFormat && manifest.Window is not > 0)
        {
            problem = $"format '{StatelessFormat}' needs 'window' > 0";
        }
        else if (string.IsNullOrWhiteSpace(manifest.ModelFile))
        {
            problem = "'modelFile' is empty";
        }
        else if (manifest.EosTokenIds.Concat(manifest.SpecialTokenIds).Append(manifest.BosTokenId ?? 0).Any(id => id < 0 || id >= manifest.VocabularySize))
        {
            problem = $"a bos/eos/special token id lies outside 0..{manifest.VocabularySize - 1}";
        }

        if (problem is not null)
        {
            throw new ModelLoadException(path, $"invalid manifest: {problem}");
        }
    }

    private static string ComputeIdentity(ModelFolderDescription description)
    {
        // External data sits next to the ONNX file under its stem (model.onnx.data, model.onnx_data, model.data).
        var folder = description.Folder;
        var manifest = description.Manifest;
        var stem = Path.GetFileNameWithoutExtension(manifest.ModelFile);
        // Name → path; a tokenizer given from outside the folder (OnnxModelOptions.TokenizerFile) counts under its file
        // name alone, so the identity does not depend on where it lies.
        var files = new SortedDictionary<string, string>(StringComparer.Ordinal);
        foreach (var name in description.Sources.Append(manifest.ModelFile))
        {
            files[name] = Path.Combine(folder, name);
        }

        if (description.TokenizerPath is { } tokenizerPath)
        {
            var relative = Path.GetRelativePath(folder, tokenizerPath);
            files[relative.StartsWith("..", StringComparison.Ordinal) || Path.IsPathRooted(relative) ? "tokenizer:" + Path.GetFileName(tokenizerPath) : relative] = tokenizerPath;
        }

        foreach (var file in Directory.EnumerateFiles(folder, stem + "*"))
        {
            var name = Path.GetFileName(file);
            if (!name.EndsWith(".json", StringComparison.OrdinalIgnoreCase))
            {
                files[name] = file;
            }
        }

        using var hash = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
        var buffer = new byte[1 << 20];
        foreach (var (name, path) in files)
        {
            hash.AppendData(System.Text.Encoding.UTF8.GetBytes(name + "\n"));
            using var stream = File.OpenRead(path);
            int read;
            while ((read = stream.Read(buffer)) > 0)
            {
                hash.AppendData(buffer, 0, read);
            }
        }

        return "sha256:" + Convert.ToHexStringLower(hash.GetHashAndReset());
    }

    internal sealed record ModelContext(
        ModelManifest Manifest,
        string Folder,
        string ModelPath,
        ITokenizer Tokenizer,
        Lazy<string> Identity,
        InferenceSession Session,
        string ExecutionProvider,
        OnnxModelOptions Options);
}
