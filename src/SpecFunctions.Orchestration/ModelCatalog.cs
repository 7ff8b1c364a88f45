using System.Collections.Concurrent;
using Microsoft.Extensions.Logging;
using SpecFunctions.Core.Storage;
using SpecFunctions.Onnx;

namespace SpecFunctions.Orchestration;

/// <summary>Resolves model references (names in a submission) to model folders. Raw user text never becomes a path.</summary>
public interface IModelCatalog
{
    /// <summary>True when <paramref name="reference"/> names a model this catalog can load.</summary>
    bool IsKnown(string reference);

    /// <summary>The model folder for <paramref name="reference"/>; throws <see cref="KeyNotFoundException"/> when unknown.</summary>
    string GetFolder(string reference);
}

/// <summary>
/// A catalog of explicit aliases (e.g. <c>demo-verifier</c> → a folder) plus, optionally, every subfolder of a models
/// root that holds a <c>specfn-model.json</c>, addressed by its folder name (validated like a run id).
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
            if (File.Exists(Path.Combine(candidate, Core.Models.ModelManifest.FileName)))
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
/// Models are thread-safe; sequences are per generation.
/// </summary>
public sealed class ModelCache(IModelCatalog catalog, OnnxModelOptions onnxOptions, ILogger<ModelCache> logger) : IDisposable
{
    private readonly ConcurrentDictionary<string, Lazy<(OnnxLanguageModel Model, ModelIdentity Identity)>> _models = new(StringComparer.Ordinal);

    public IModelCatalog Catalog => catalog;

    /// <summary>Loads (once) the model <paramref name="reference"/> names.</summary>
    public (OnnxLanguageModel Model, ModelIdentity Identity) Get(string reference)
    {
        var folder = Path.GetFullPath(catalog.GetFolder(reference));
        return _models.GetOrAdd(folder, f => new Lazy<(OnnxLanguageModel, ModelIdentity)>(() =>
        {
            var model = OnnxLanguageModel.Load(f, onnxOptions, logger);
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

    public void Dispose()
    {
        foreach (var entry in _models.Values.Where(l => l.IsValueCreated))
        {
            entry.Value.Model.Dispose();
        }
    }
}
