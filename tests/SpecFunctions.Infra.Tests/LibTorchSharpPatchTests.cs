using System.Diagnostics;
using System.Reflection;
using System.Text;
using SpecFunctions.Tests.Shared;

namespace SpecFunctions.Infra.Tests;

/// <summary>
/// src/LibTorchSharp.Patch.targets on TorchSharp's real libLibTorchSharp.so, run by MSBuild as the build runs it: the
/// patch is one byte, written through a new file (a hard link into the package cache keeps the original), and it is
/// refused (the build fails) when the library no longer needs GLIBCXX_3.4.32 for the one symbol it was made for.
/// </summary>
public sealed class LibTorchSharpPatchTests : IDisposable
{
    private const string Symbol = "_ZSt21ios_base_library_initv";
    private readonly DirectoryInfo _work = Directory.CreateTempSubdirectory("specfn-libtorch-patch-");

    public void Dispose() => _work.Delete(recursive: true);

    private static string Original
    {
        get
        {
            var package = typeof(LibTorchSharpPatchTests).Assembly.GetCustomAttributes<AssemblyMetadataAttribute>()
                .Single(a => a.Key == "TorchSharpPackagePath").Value!;
            return Path.Combine(package, "runtimes", "linux-x64", "native", "libLibTorchSharp.so");
        }
    }

    [Fact]
    [System.Runtime.Versioning.SupportedOSPlatform("linux")]
    public async Task Patch_ChangesOneByte_KeepsTheFileMode_AndLeavesAHardLinkedSourceAlone()
    {
        // A private "cache" copy, and the output file as a hard link to it, as a build that hard-links copies makes it.
        var cache = Path.Combine(Directory.CreateDirectory(Path.Combine(_work.FullName, "cache")).FullName, "libLibTorchSharp.so");
        File.Copy(Original, cache);
        var output = Path.Combine(Directory.CreateDirectory(Path.Combine(_work.FullName, "out")).FullName, "libLibTorchSharp.so");
        Run("ln", cache, output);
        var original = File.ReadAllBytes(Original);

        var result = await PatchAsync();

        Assert.True(result.Succeeded, result.ToString());
        var patched = File.ReadAllBytes(output);
        var changed = Enumerable.Range(0, original.Length).Where(i => patched[i] != original[i]).ToList();
        Assert.Equal(original.Length, patched.Length);
        var at = Assert.Single(changed);
        Assert.Equal(original[at] | 2, patched[at]); // VER_FLG_WEAK in the requirement's vna_flags
        Assert.Equal(Elf.Read(original).VersionFlagsOffset, at);
        Assert.Equal(original, File.ReadAllBytes(cache));
        Assert.Equal(File.GetUnixFileMode(cache), File.GetUnixFileMode(output));

        // Idempotent: a second build leaves the patched file as it is.
        Assert.True((await PatchAsync()).Succeeded);
        Assert.Equal(patched, File.ReadAllBytes(output));
    }

    [Fact]
    public async Task Patch_FailsTheBuild_WhenAnotherSymbolNeedsTheVersion()
    {
        var bytes = File.ReadAllBytes(Original);
        var elf = Elf.Read(bytes);
        var other = elf.SymbolIndex == 1 ? 2 : 1; // any other dynamic symbol, now also "needing" GLIBCXX_3.4.32
        BitConverter.TryWriteBytes(bytes.AsSpan(elf.VersymOffset + 2 * other), (ushort)elf.VersionIndex);
        var output = WriteOutput(bytes);

        var result = await PatchAsync();

        Assert.False(result.Succeeded, "the patch accepted a library in which a second symbol needs GLIBCXX_3.4.32");
        Assert.Contains($"not only by {Symbol}", result.Output, StringComparison.Ordinal);
        Assert.Equal(bytes, File.ReadAllBytes(output));
    }

    [Fact]
    public async Task Patch_FailsTheBuild_WhenARelocationCallsTheSymbol()
    {
        var bytes = File.ReadAllBytes(Original);
        var elf = Elf.Read(bytes);
        // The first dynamic relocation now refers to std::ios_base_library_init(): the library would call it.
        var info = BitConverter.ToUInt64(bytes, elf.FirstRelocationOffset + 8);
        BitConverter.TryWriteBytes(bytes.AsSpan(elf.FirstRelocationOffset + 8), ((ulong)elf.SymbolIndex << 32) | (info & 0xFFFFFFFF));
        var output = WriteOutput(bytes);

        var result = await PatchAsync();

        Assert.False(result.Succeeded, "the patch accepted a library that calls the symbol");
        Assert.Contains($"a relocation refers to {Symbol}@GLIBCXX_3.4.32", result.Output, StringComparison.Ordinal);
        Assert.Equal(bytes, File.ReadAllBytes(output));
    }

    private string WriteOutput(byte[] bytes)
    {
        var output = Path.Combine(Directory.CreateDirectory(Path.Combine(_work.FullName, "out")).FullName, "libLibTorchSharp.so");
        File.WriteAllBytes(output, bytes);
        return output;
    }

    /// <summary>Runs the repository's patch task, as its build target does, over out/**/libLibTorchSharp.so.</summary>
    private async Task<DotnetCommand.Result> PatchAsync()
    {
        var project = Path.Combine(_work.FullName, "patch.proj");
        File.WriteAllText(project, $"""
            <Project>
              <Import Project="{RepositoryRoot.Combine("src", "LibTorchSharp.Patch.targets")}" />
              <Target Name="Patch">
                <ItemGroup><_Library Include="{_work.FullName}/out/**/libLibTorchSharp.so" /></ItemGroup>
                <SpecfnWeakenElfVersionNeed Files="@(_Library)" Version="$(_SpecfnLibTorchSharpVersion)" OnlySymbol="$(_SpecfnLibTorchSharpSymbol)" />
              </Target>
            </Project>
            """);
        return await DotnetCommand.RunAsync(_work.FullName, "msbuild", project, "-t:Patch", "-nologo", "-nodeReuse:false", "-v:n");
    }

    private static void Run(string file, params string[] arguments)
    {
        using var process = Process.Start(new ProcessStartInfo(file, arguments))!;
        process.WaitForExit();
        Assert.Equal(0, process.ExitCode);
    }

    /// <summary>The offsets in libLibTorchSharp.so that the tests read and change (ELF64 little-endian).</summary>
    private sealed record Elf(int VersionFlagsOffset, int VersionIndex, int VersymOffset, int SymbolIndex, int FirstRelocationOffset)
    {
        public static Elf Read(byte[] b)
        {
            var shoff = BitConverter.ToInt64(b, 0x28);
            int shentsize = BitConverter.ToUInt16(b, 0x3A), shnum = BitConverter.ToUInt16(b, 0x3C);
            var sections = Enumerable.Range(0, shnum).Select(s => (int)(shoff + (long)s * shentsize))
                .Select(h => (Type: BitConverter.ToUInt32(b, h + 4), Offset: (int)BitConverter.ToInt64(b, h + 24),
                    Size: (int)BitConverter.ToInt64(b, h + 32), Link: (int)BitConverter.ToUInt32(b, h + 40)))
                .ToList();
            string Text(int strtab, int at)
            {
                var start = sections[strtab].Offset + at;
                return Encoding.ASCII.GetString(b, start, Array.IndexOf(b, (byte)0, start) - start);
            }

            var verneed = sections.Single(s => s.Type == 0x6FFFFFFE);
            int flags = -1, index = -1;
            for (var need = verneed.Offset; ; need += (int)BitConverter.ToUInt32(b, need + 12))
            {
                var aux = need + (int)BitConverter.ToUInt32(b, need + 8);
                for (var i = 0; i < BitConverter.ToUInt16(b, need + 2); i++, aux += (int)BitConverter.ToUInt32(b, aux + 12))
                {
                    if (Text(verneed.Link, (int)BitConverter.ToUInt32(b, aux + 8)) == "GLIBCXX_3.4.32")
                    {
                        (flags, index) = (aux + 4, BitConverter.ToUInt16(b, aux + 6));
                    }
                }

                if (BitConverter.ToUInt32(b, need + 12) == 0)
                {
                    break;
                }
            }

            var dynsymIndex = sections.FindIndex(s => s.Type == 11);
            var dynsym = sections[dynsymIndex];
            var symbol = Enumerable.Range(0, dynsym.Size / 24)
                .Single(i => Text(dynsym.Link, (int)BitConverter.ToUInt32(b, dynsym.Offset + 24 * i)) == Symbol);
            var relocations = sections.First(s => s.Type == 4 && s.Link == dynsymIndex && s.Size > 0);
            Assert.True(flags > 0, "libLibTorchSharp.so no longer requires GLIBCXX_3.4.32: the patch and these tests can go");
            return new Elf(flags, index, sections.Single(s => s.Type == 0x6FFFFFFF).Offset, symbol, relocations.Offset);
        }
    }
}
