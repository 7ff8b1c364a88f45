using SpecFunctions.Demo.Pairs;

namespace SpecFunctions.Demo.Tests;

/// <summary>The cache both demo pairs share, with a stand-in "training" that writes one file per model.</summary>
public sealed class ModelPairCacheTests : IDisposable
{
    private const string StampFile = "test-cache.json";
    private readonly string _root = Directory.CreateTempSubdirectory("specfn-pair-cache-").FullName;
    private int _trainings;

    public void Dispose() => Directory.Delete(_root, recursive: true);

    [Fact]
    public async Task EnsureAsync_SameKeyTwice_TrainsOnceAndReturnsTheRecordedStamp()
    {
        var first = await EnsureAsync("a1b2c3d4e5f6a7b8c9", "first");
        var second = await EnsureAsync("a1b2c3d4e5f6a7b8c9", "second");

        Assert.False(first.Reused);
        Assert.True(second.Reused);
        Assert.Equal(1, _trainings);
        Assert.Equal("first", second.Stamp.Note);
        Assert.Equal("first", File.ReadAllText(Path.Combine(_root, ModelPairCache.DrafterFolder, "model.bin")));
        Assert.Equal([ModelPairCache.DrafterFolder, StampFile, ModelPairCache.VerifierFolder], Directory.EnumerateFileSystemEntries(_root).Select(Path.GetFileName).Order(StringComparer.Ordinal));
    }

    [Fact]
    public async Task EnsureAsync_NewKeyOrMissingFile_RetrainsAndReplacesTheFolders()
    {
        await EnsureAsync("a1b2c3d4e5f6a7b8c9", "first");

        var changed = await EnsureAsync("ffffffffffffffff00", "second");
        File.Delete(Path.Combine(_root, ModelPairCache.VerifierFolder, "model.bin"));
        var repaired = await EnsureAsync("ffffffffffffffff00", "third");

        Assert.False(changed.Reused);
        Assert.False(repaired.Reused);
        Assert.Equal(3, _trainings);
        Assert.Equal("third", File.ReadAllText(Path.Combine(_root, ModelPairCache.VerifierFolder, "model.bin")));
    }

    [Fact]
    public async Task EnsureAsync_TrainingFails_NoStampNoStagingAndTheNextCallTrains()
    {
        await EnsureAsync("a1b2c3d4e5f6a7b8c9", "first");

        await Assert.ThrowsAsync<InvalidDataException>(() => ModelPairCache.EnsureAsync<TestStamp>(
            _root, StampFile, "0123456789abcdef01", ["model.bin"], _ => throw new InvalidDataException("corpus unreadable")));

        Assert.False(File.Exists(Path.Combine(_root, StampFile)));
        Assert.DoesNotContain(Directory.EnumerateDirectories(_root), d => Path.GetFileName(d).StartsWith(".staging-", StringComparison.Ordinal));
        Assert.False((await EnsureAsync("a1b2c3d4e5f6a7b8c9", "again")).Reused);
    }

    private Task<(TestStamp Stamp, bool Reused)> EnsureAsync(string key, string note) =>
        ModelPairCache.EnsureAsync(_root, StampFile, key, ["model.bin"], staging =>
        {
            _trainings++;
            foreach (var model in new[] { ModelPairCache.VerifierFolder, ModelPairCache.DrafterFolder })
            {
                Directory.CreateDirectory(Path.Combine(staging, model));
                File.WriteAllText(Path.Combine(staging, model, "model.bin"), note);
            }

            return new TestStamp(key, note);
        });

    public sealed record TestStamp(string Key, string Note) : IModelPairStamp;
}
