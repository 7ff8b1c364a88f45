using SpecFunctions.Tests.Shared;

namespace SpecFunctions.Infra.Tests;

/// <summary>
/// <c>dotnet publish</c> of the Functions app as the Dockerfile runs it (linux-x64, Release, <c>CI=true</c> so the
/// restore is locked), on a copy of exactly what the Dockerfile's build stage copies: the committed lock files must
/// match the projects for both variants, and the output must carry its native ONNX Runtime, the CPU build by default
/// and the CUDA build (with the CUDA execution provider) under <c>-p:SpecfnGpu=true</c>. Without the native library
/// every evaluation fails in its first activity (DllNotFoundException: 'onnxruntime').
/// </summary>
public sealed class FunctionsPublishTests : IDisposable
{
    private readonly string _work = System.IO.Path.Combine(System.IO.Path.GetTempPath(), "specfn-publish-" + Guid.NewGuid().ToString("N")[..12]);

    public void Dispose()
    {
        if (Directory.Exists(_work))
        {
            Directory.Delete(_work, recursive: true);
        }
    }

    [Fact]
    public async Task Publish_DefaultAndGpuVariants_CarryTheNativeRuntimeAndForGpuTheCudaProvider()
    {
        CopyBuildContext(System.IO.Path.Combine(_work, "context"));

        var cpu = await PublishAsync("cpu");
        var gpu = await PublishAsync("gpu", "-p:SpecfnGpu=true");

        Assert.True(File.Exists(System.IO.Path.Combine(cpu, "libonnxruntime.so")), "CPU publish has no libonnxruntime.so");
        Assert.False(File.Exists(System.IO.Path.Combine(cpu, "libonnxruntime_providers_cuda.so")), "CPU publish carries the CUDA provider");
        Assert.True(File.Exists(System.IO.Path.Combine(gpu, "libonnxruntime.so")), "GPU publish has no libonnxruntime.so");
        Assert.True(File.Exists(System.IO.Path.Combine(gpu, "libonnxruntime_providers_cuda.so")), "GPU publish has no CUDA execution provider");
        Assert.True(File.Exists(System.IO.Path.Combine(gpu, "libonnxruntime_providers_shared.so")), "GPU publish has no providers_shared (the CUDA provider loads it)");

        // The two native builds differ (the GPU one links the CUDA provider bridge), and the managed API is the same.
        Assert.NotEqual(new FileInfo(System.IO.Path.Combine(cpu, "libonnxruntime.so")).Length, new FileInfo(System.IO.Path.Combine(gpu, "libonnxruntime.so")).Length);
        Assert.True(File.Exists(System.IO.Path.Combine(cpu, "Microsoft.ML.OnnxRuntime.dll")));
        Assert.True(File.Exists(System.IO.Path.Combine(gpu, "Microsoft.ML.OnnxRuntime.dll")));
        Assert.True(File.Exists(System.IO.Path.Combine(gpu, "functions.metadata")), "not a Functions publish output");

        // Which CUDA the natives are built for, read from the provider's ELF dynamic section (readelf -d): CUDA 13.
        // No served Microsoft.ML.OnnxRuntime.Gpu.Linux (1.30.0 to 1.32.0) links CUDA 12, so the image carries these
        // CUDA 13 libraries and NVIDIA's forward-compatibility driver for the platform's CUDA 12.x (docs/deploy.md).
        var provider = ElfDynamicSection.Read(System.IO.Path.Combine(gpu, "libonnxruntime_providers_cuda.so"));
        var cudaLinked = provider.Needed.Where(n => n.StartsWith("libcu", StringComparison.Ordinal) || n.StartsWith("libnv", StringComparison.Ordinal)).ToList();
        Assert.Equal(CudaNatives.LinkedByProvider, cudaLinked);
        Assert.DoesNotContain(provider.Needed, n => n.EndsWith(".so.12", StringComparison.Ordinal));
        Assert.Equal("libonnxruntime.so.1", ElfDynamicSection.Read(System.IO.Path.Combine(gpu, "libonnxruntime.so")).Soname);
        // The CPU build and the GPU core library link no CUDA at all (the provider is loaded on request).
        Assert.DoesNotContain(ElfDynamicSection.Read(System.IO.Path.Combine(cpu, "libonnxruntime.so")).Needed, n => n.StartsWith("libcu", StringComparison.Ordinal));
        Assert.DoesNotContain(ElfDynamicSection.Read(System.IO.Path.Combine(gpu, "libonnxruntime.so")).Needed, n => n.StartsWith("libcu", StringComparison.Ordinal));
    }

    [Fact]
    public void ElfDynamicSection_ASystemLibrary_ReadsItsSonameAndNeeds()
    {
        var zlib = new[] { "/lib/x86_64-linux-gnu/libz.so.1", "/usr/lib/x86_64-linux-gnu/libz.so.1", "/lib64/libz.so.1" }.First(File.Exists);

        var section = ElfDynamicSection.Read(zlib);

        Assert.Equal("libz.so.1", section.Soname);
        Assert.Contains("libc.so.6", section.Needed);
        Assert.Throws<InvalidDataException>(() => ElfDynamicSection.Read(RepositoryRoot.Combine("host.json")));
    }

    private async Task<string> PublishAsync(string name, params string[] extra)
    {
        var output = System.IO.Path.Combine(_work, name);
        string[] arguments =
        [
            "publish", "src/SpecFunctions.Functions/SpecFunctions.Functions.csproj", "--configuration", "Release", "--runtime", "linux-x64",
            "--self-contained", "false", "--output", output, "--nologo", .. extra,
        ];
        // The Dockerfile's ENV CI=true: a restore that would change a lock file fails (NU1004) instead of floating.
        var environment = new Dictionary<string, string> { ["CI"] = "true" };
        var result = await DotnetCommand.RunAsync(System.IO.Path.Combine(_work, "context"), environment, arguments);
        Assert.True(result.Succeeded, $"dotnet {string.Join(' ', arguments)}: {result}");
        return output;
    }

    /// <summary>
    /// What the Dockerfile's build stage copies from the build context (its COPY instructions without --from), so a
    /// file the build needs and the Dockerfile forgets fails here as it would in <c>docker build</c>.
    /// </summary>
    private static void CopyBuildContext(string destination)
    {
        var stages = Dockerfile.Parse(File.ReadAllText(RepositoryRoot.Combine("src", "SpecFunctions.Functions", "Dockerfile")));
        var build = stages.Single(s => s.Image.StartsWith("mcr.microsoft.com/dotnet/sdk:", StringComparison.Ordinal));
        var copies = build.Instructions.Where(i => i.Keyword == "COPY" && !i.Arguments.StartsWith("--from", StringComparison.Ordinal)).ToList();
        Assert.NotEmpty(copies);
        Directory.CreateDirectory(destination);
        foreach (var copy in copies)
        {
            // COPY SOURCE... DEST: a folder's contents go into DEST, a file into the folder DEST.
            var parts = copy.Arguments.Split(' ', StringSplitOptions.RemoveEmptyEntries);
            var target = System.IO.Path.Combine(destination, parts[^1].TrimEnd('/'));
            foreach (var source in parts[..^1])
            {
                var path = RepositoryRoot.Combine(source.TrimEnd('/'));
                if (Directory.Exists(path))
                {
                    CopyTree(path, target);
                }
                else
                {
                    Directory.CreateDirectory(target);
                    File.Copy(path, System.IO.Path.Combine(target, System.IO.Path.GetFileName(path)));
                }
            }
        }
    }

    private static void CopyTree(string source, string destination)
    {
        Directory.CreateDirectory(destination);
        foreach (var file in Directory.EnumerateFiles(source))
        {
            File.Copy(file, System.IO.Path.Combine(destination, System.IO.Path.GetFileName(file)));
        }

        foreach (var dir in Directory.EnumerateDirectories(source))
        {
            var name = System.IO.Path.GetFileName(dir);
            if (name is not ("bin" or "obj"))
            {
                CopyTree(dir, System.IO.Path.Combine(destination, name));
            }
        }
    }
}
