using SpecFunctions.Core.Storage;

namespace SpecFunctions.Core.Tests.Storage;

public sealed class LocalFolderObjectStoreTests : IDisposable
{
    private const string ObjectPath = "runs/r1/traces/en.jsonl.gz";
    private readonly string _root = Directory.CreateTempSubdirectory("specfn-local-store-").FullName;

    public void Dispose() => Directory.Delete(_root, recursive: true);

    [Fact]
    public async Task Commit_AfterAnInterruptedCommit_RemovesTheLeftoverAndKeepsALiveWritersStaging()
    {
        var store = new LocalFolderObjectStore(_root);
        var final = Path.Combine(_root, "runs", "r1", "traces", "en.jsonl.gz");
        Directory.CreateDirectory(Path.GetDirectoryName(final)!);
        // What a process killed between open and commit leaves behind.
        var leftover = $"{final}.{Guid.NewGuid():N}.specfn-tmp";
        await File.WriteAllBytesAsync(leftover, [9, 9, 9]);
        Assert.Empty(await store.ListAsync("runs/").ToListAsync());

        var live = await store.OpenStagedWriteAsync(ObjectPath);
        await using (live)
        {
            live.Stream.Write([1, 2, 3]);
            await using (var next = await store.OpenStagedWriteAsync(ObjectPath))
            {
                next.Stream.Write([4]);
                await next.CommitAsync();
            }

            Assert.False(File.Exists(leftover), "the interrupted commit's staging file is still there");
            Assert.Single(Staging(final));
            Assert.Equal([4], await File.ReadAllBytesAsync(final));

            await live.CommitAsync();
        }

        Assert.Empty(Staging(final));
        Assert.Equal([1, 2, 3], await File.ReadAllBytesAsync(final));
        Assert.Equal([ObjectPath], await store.ListAsync("runs/").ToListAsync());
    }

    [Fact]
    public async Task ConditionalWrite_AfterAnInterruptedWrite_RemovesTheLeftover()
    {
        var store = new LocalFolderObjectStore(_root);
        var final = Path.Combine(_root, "runs", "r1", "manifest.json");
        Directory.CreateDirectory(Path.GetDirectoryName(final)!);
        var leftover = $"{final}.{Guid.NewGuid():N}.specfn-tmp";
        await File.WriteAllTextAsync(leftover, "{\"half");

        await store.WriteConditionalAsync("runs/r1/manifest.json", "{}"u8.ToArray(), ifMatch: null);

        Assert.False(File.Exists(leftover));
        Assert.Equal("{}", await File.ReadAllTextAsync(final));
    }

    private static string[] Staging(string final) =>
        Directory.GetFiles(Path.GetDirectoryName(final)!, Path.GetFileName(final) + ".*.specfn-tmp");
}
