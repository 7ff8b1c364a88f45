namespace SpecFunctions.Core.Models;

/// <summary>Resolves model references (names in a submission) to model folders. Raw user text never becomes a path.</summary>
public interface IModelCatalog
{
    /// <summary>True when <paramref name="reference"/> names a model this catalog can load.</summary>
    bool IsKnown(string reference);

    /// <summary>The model folder for <paramref name="reference"/>; throws <see cref="KeyNotFoundException"/> when unknown.</summary>
    string GetFolder(string reference);
}
