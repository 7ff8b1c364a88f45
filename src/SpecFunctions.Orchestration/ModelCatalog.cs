using System.Collections.Concurrent;
using Microsoft.Extensions.Logging;
using SpecFunctions.Core.Models;
using SpecFunctions.Core.Storage;
using SpecFunctions.Onnx;

namespace SpecFunctions.Orchestration;

/// <summary>
/// A catalog of explicit aliases (e.g. <c>demo-verifier</c> → a folder) plus, optionally, every subfolder of a models
/// root that is a model folder (<see cref="ModelFolder.IsModelFolder"/>: a <c>specfn-model.json</c>, or an export's
/// <c>genai_config.json</c> or optimum <c>config.json</c> the manifest is derived from), addressed by its folder name
/// (validated like a run id).
/// </summary>
public sealed class ModelCatalog(IReadOnlyDictionary<string, string> aliases, string? root = null) : IModelCatalog
{
    public bool IsKnown(string reference) => TryGetFolder(reference, out _);

    public string GetFolder(string reference) =>
        TryGetFolder(reference, out var folder) ? folder : throw new KeyNotFoundException($"unknown model reference '{reference}'");

    private bool TryGetFolder(string reference, out string folder)
    {
        if (aliases.TryGetValue(reference, out folder!))
        {
            return true;
        }

        if (root is not null && StoreIds.IsValid(reference))
        {
            var candidate = Path.Combine(root, reference);
            if (ModelFolder.IsModelFolder(candidate))
            {
                folder = candidate;
                return true;
            }
        }

        folder = string.Empty;
        return false;
    }
}

/// <summary>
/// Loaded ONNX models and their identities, cached per process: an evaluation replica loads each model once.
/// Models are thread-safe; sequences are per generation. A reference <c>{name}@{sha256}</c> names a stored,
/// content-addressed model version (a mitigated drafter): it is downloaded once from the trace store into
/// <see cref="EvaluationOptions.ModelCacheFolder"/>, so any replica can evaluate it.
/// </summary>
public sealed class ModelCache(IModelCatalog catalog, OnnxModelOptions onnxOptions, ITraceStore store, Microsoft.Extensions.Options.IOptions<EvaluationOptions> options, ILogger<ModelCache> logger) : IDisposable
{
    private readonly ConcurrentDictionary<string, Lazy<(OnnxLanguageModel Model, ModelIdentity Identity)>> _models = new(StringComparer.Ordinal);
    private readonly SemaphoreSlim _downloads = new(1);
    private readonly ConcurrentDictionary<string, Lazy<bool>> _warm = new(StringComparer.Ordinal);

    public IModelCatalog Catalog => catalog;

    /// <summary>The reference of a stored model version.</summary>
    public static string VersionReference(ModelIdentity identity) => $"{identity.Name}@{identity.Sha256}";

    /// <summary>True when <paramref name="reference"/> is a catalog name or a well-formed stored-version reference.</summary>
    public bool IsKnown(string reference) => catalog.IsKnown(reference) || TryParseVersion(reference, out _);

    /// <summary>The local folder of <paramref name="reference"/>, downloading a stored version first when needed.</summary>
    public string GetFolder(string reference)
    {
        if (!TryParseVersion(reference, out var identity))
        {
            return catalog.GetFolder(reference);
        }

        var folder = Path.Combine(options.Value.ModelCacheFolder, identity.Name, identity.Sha256);
        if (File.Exists(Path.Combine(folder, Core.Models.ModelManifest.FileName)))
        {
            return folder;
        }

        _downloads.Wait();
        try
        {
            if (!File.Exists(Path.Combine(folder, Core.Models.ModelManifest.FileName)))
            {
                // Download next to the final folder and rename, so a crash never leaves a half folder that looks complete.
                var partial = folder + ".partial-" + Environment.ProcessId;
                if (Directory.Exists(partial))
                {
                    Directory.Delete(partial, recursive: true);
                }

                store.GetModelAsync(identity, partial).GetAwaiter().GetResult();
                Directory.CreateDirectory(Path.GetDirectoryName(folder)!);
                Directory.Move(partial, folder);
            }
        }
        finally
        {
            _downloads.Release();
        }

        return folder;
    }

    /// <summary>Makes a freshly trained folder available under its version reference without a download.</summary>
    public string AdoptVersion(ModelIdentity identity, string trainedFolder)
    {
        var folder = Path.Combine(options.Value.ModelCacheFolder, identity.Name, identity.Sha256);
        if (!Directory.Exists(folder))
        {
            Directory.CreateDirectory(folder);
            foreach (var file in Directory.GetFiles(trainedFolder))
            {
                File.Copy(file, Path.Combine(folder, Path.GetFileName(file)));
            }
        }

        return VersionReference(identity);
    }

    private static bool TryParseVersion(string reference, out ModelIdentity identity)
    {
        var at = reference.IndexOf('@', StringComparison.Ordinal);
        identity = null!;
        if (at <= 0)
        {
            return false;
        }

        var name = reference[..at];
        var sha = reference[(at + 1)..];
        if (!StoreIds.IsValid(name) || sha.Length != 64 || !sha.All(char.IsAsciiHexDigitLower))
        {
            return false;
        }

        identity = new ModelIdentity { Name = name, Sha256 = sha };
        return true;
    }

    /// <summary>Loads (once) the model <paramref name="reference"/> names.</summary>
    public (OnnxLanguageModel Model, ModelIdentity Identity) Get(string reference)
    {
        var folder = Path.GetFullPath(GetFolder(reference));
        return _models.GetOrAdd(folder, f => new Lazy<(OnnxLanguageModel, ModelIdentity)>(() =>
        {
            // A model call worth a span: the session load (seconds, the execution provider chosen here).
            using var span = EvaluationTelemetry.Source.StartActivity("LoadModel");
            var model = OnnxLanguageModel.Load(f, onnxOptions, logger);
            span?.SetTag("specfn.model", model.Manifest.Name);
            span?.SetTag("specfn.device.execution_provider", model.ExecutionProvider);
            var content = ModelFolderHash.Compute(f);
            return (model, new ModelIdentity { Name = model.Manifest.Name, Sha256 = content.Sha256, Family = model.Manifest.Family });
        })).Value;
    }

    /// <summary>Loads a drafter/verifier pair and checks they share a vocabulary.</summary>
    public (OnnxLanguageModel Drafter, ModelIdentity DrafterId, OnnxLanguageModel Verifier, ModelIdentity VerifierId) GetPair(string drafter, string verifier)
    {
        var d = Get(drafter);
        var v = Get(verifier);
        ModelPair.EnsureCompatible(d.Model, v.Model);
        return (d.Model, d.Identity, v.Model, v.Identity);
    }

    /// <summary>
    /// Runs <paramref name="warmUp"/> once per drafter/verifier pair in this process (concurrent callers wait for the
    /// first), so timed work never pays ONNX Runtime's first-call costs.
    /// </summary>
    public void EnsureWarm(ModelIdentity drafter, ModelIdentity verifier, Action warmUp) =>
        _ = _warm.GetOrAdd($"{drafter.Sha256}/{verifier.Sha256}", _ => new Lazy<bool>(() =>
        {
            using var span = EvaluationTelemetry.Source.StartActivity("WarmUpModels");
            span?.SetTag("specfn.drafter", drafter.Name);
            span?.SetTag("specfn.verifier", verifier.Name);
            warmUp();
            return true;
        })).Value;

    public void Dispose()
    {
        _downloads.Dispose();
        foreach (var entry in _models.Values.Where(l => l.IsValueCreated))
        {
            entry.Value.Model.Dispose();
        }
    }
}
