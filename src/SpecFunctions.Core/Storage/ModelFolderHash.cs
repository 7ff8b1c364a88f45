using System.Security.Cryptography;
using System.Text;

namespace SpecFunctions.Core.Storage;

/// <summary>
/// SHA-256 of a model folder: the hash of the lines <c>{relative path}\t{sha256 of file}\n</c> over all files,
/// sorted by ordinal relative path ('/' separators). Renaming or changing any file changes it.
/// </summary>
public static class ModelFolderHash
{
    public static ModelFolderContent Compute(string folder)
    {
        if (!Directory.Exists(folder))
        {
            throw new DirectoryNotFoundException($"model folder '{folder}' does not exist");
        }

        var files = Directory.EnumerateFiles(folder, "*", SearchOption.AllDirectories)
            .Select(path => Path.GetRelativePath(folder, path).Replace(Path.DirectorySeparatorChar, '/'))
            .Order(StringComparer.Ordinal)
            .Select(relative =>
            {
                StoreIds.ValidateRelativeFilePath(relative);
                using var stream = File.OpenRead(Path.Combine(folder, relative));
                return new ModelFile(relative, Convert.ToHexStringLower(SHA256.HashData(stream)), stream.Length);
            })
            .ToList();

        if (files.Count == 0)
        {
            throw new ArgumentException($"model folder '{folder}' is empty", nameof(folder));
        }

        return new ModelFolderContent(Combine(files), files);
    }

    public static string Combine(IEnumerable<ModelFile> files)
    {
        var text = new StringBuilder();
        foreach (var file in files.OrderBy(f => f.Path, StringComparer.Ordinal))
        {
            text.Append(file.Path).Append('\t').Append(file.Sha256).Append('\n');
        }

        return Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes(text.ToString())));
    }
}

/// <summary>A model folder's hash and its files.</summary>
public sealed record ModelFolderContent(string Sha256, IReadOnlyList<ModelFile> Files);

/// <summary>One file of a model folder: '/'-separated relative path, SHA-256 (hex), size in bytes.</summary>
public sealed record ModelFile(string Path, string Sha256, long Length);
