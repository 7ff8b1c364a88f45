namespace SpecFunctions.Infra.Tests;

public sealed class DockerfileTests
{
    private static readonly string _dockerfilePath = RepositoryRoot.Combine("src", "SpecFunctions.Functions", "Dockerfile");

    private static IReadOnlyList<DockerStage> Stages => Dockerfile.Parse(File.ReadAllText(_dockerfilePath));

    [Fact]
    public void BaseImages_EveryFrom_PinsAnExplicitVersion()
    {
        var stages = Stages;
        var aliases = stages.Select(s => s.Alias).OfType<string>().ToHashSet(StringComparer.OrdinalIgnoreCase);

        var external = stages.Where(s => !aliases.Contains(s.Image)).ToList();
        Assert.True(external.Count >= 3, "Expected CUDA, SDK and Functions base images.");
        Assert.All(external, stage => Assert.Null(ImageReference.Parse(stage.Image).UnpinnedReason));
    }

    [Fact]
    public void BaseImages_ArePinnedToTheExpectedToolchains()
    {
        var images = Stages.Select(s => ImageReference.Parse(s.Image)).ToList();

        Assert.Contains(images, i => i.Repository == "mcr.microsoft.com/dotnet/sdk" && i.Tag!.StartsWith("10.0.", StringComparison.Ordinal));
        Assert.Contains(images, i => i.Repository == "nvidia/cuda" && i.Tag!.StartsWith("13.0.", StringComparison.Ordinal)
                                                                   && i.Tag.Contains("cudnn", StringComparison.Ordinal));
        var runtime = ImageReference.Parse(Stages[^1].Image);
        Assert.Equal("mcr.microsoft.com/azure-functions/dotnet-isolated", runtime.Repository);
        Assert.EndsWith("dotnet-isolated10.0", runtime.Tag, StringComparison.Ordinal);
    }

    [Fact]
    public void FinalStage_User_IsNotRoot()
    {
        var user = Stages[^1].User;

        Assert.False(string.IsNullOrWhiteSpace(user), "The final stage sets no USER, so it inherits the base image's (root).");
        var name = user!.Split(':')[0];
        Assert.NotEqual("root", name);
        Assert.NotEqual("0", name);
    }

    [Fact]
    public void FinalStage_Environment_SelectsCudaAndFindsTheCopiedLibraries()
    {
        var final = Stages[^1];
        var env = string.Join(' ', final.Instructions.Where(i => i.Keyword == "ENV").Select(i => i.Arguments));
        var copies = string.Join(' ', final.Instructions.Where(i => i.Keyword == "COPY").Select(i => i.Arguments));
        var cudaStage = Stages.Single(s => s.Image.StartsWith("nvidia/cuda:", StringComparison.Ordinal));
        var gathered = cudaStage.Instructions.Single(i => i.Keyword == "RUN" && i.Arguments.Contains("/cuda-libs/", StringComparison.Ordinal)).Arguments;

        Assert.Contains("SPECFN_DEVICE=cuda", env, StringComparison.Ordinal);
        Assert.Contains("LD_LIBRARY_PATH=/opt/cuda/lib", env, StringComparison.Ordinal);
        Assert.Contains($"--from={cudaStage.Alias}", copies, StringComparison.Ordinal);
        // The sonames libonnxruntime_providers_cuda.so (ONNX Runtime GPU 1.31.0) links (FunctionsPublishTests reads them
        // from the publish output) or dlopens; the driver is the host's or the compatibility package's.
        Assert.All(CudaNatives.ImageCarries, library => Assert.Contains(library, gathered, StringComparison.Ordinal));
        Assert.DoesNotContain(CudaNatives.Driver, gathered, StringComparison.Ordinal);
    }

    [Fact]
    public void Image_CarriesNvidiasForwardCompatibilityDriver_OffTheLoaderPath()
    {
        var cudaStage = Stages.Single(s => s.Image.StartsWith("nvidia/cuda:", StringComparison.Ordinal));
        var final = Stages[^1];
        var install = cudaStage.Instructions.Single(i => i.Keyword == "RUN" && i.Arguments.Contains("cuda-compat", StringComparison.Ordinal)).Arguments;
        var cudaVersion = ImageReference.Parse(cudaStage.Image).Tag!.Split('-')[0].Split('.');

        // The package of the natives' CUDA (13.0 for the nvidia/cuda:13.0.x stage), checked to hold libcuda.so.1.
        Assert.Contains($"cuda-compat-{cudaVersion[0]}-{cudaVersion[1]}", install, StringComparison.Ordinal);
        Assert.Contains("test -e /cuda-compat/libcuda.so.1", install, StringComparison.Ordinal);
        Assert.Contains(final.Instructions, i => i.Keyword == "COPY" && i.Arguments == $"--from={cudaStage.Alias} /cuda-compat/ /usr/local/cuda/compat/");
        // The folder the app loads it from (src/SpecFunctions.Functions/Evaluator/CudaForwardCompatibility.cs).
        Assert.Contains("public const string DefaultDirectory = \"/usr/local/cuda/compat\";",
            File.ReadAllText(RepositoryRoot.Combine("src", "SpecFunctions.Functions", "Evaluator", "CudaForwardCompatibility.cs")), StringComparison.Ordinal);
        // Never on the loader path: a host driver new enough for CUDA 13 must keep its own libcuda.
        var loaderPaths = string.Join(' ', final.Instructions.Where(i => i.Keyword is "ENV" or "RUN").Select(i => i.Arguments));
        Assert.DoesNotContain("compat", loaderPaths, StringComparison.Ordinal);
    }

    [Fact]
    public void BuildStage_PublishesTheFunctionsProjectForLinuxX64()
    {
        var build = Stages.Single(s => s.Image.StartsWith("mcr.microsoft.com/dotnet/sdk:", StringComparison.Ordinal));
        var publish = build.Instructions.Single(i => i.Keyword == "RUN" && i.Arguments.Contains("dotnet publish", StringComparison.Ordinal));

        Assert.Contains("src/SpecFunctions.Functions/SpecFunctions.Functions.csproj", publish.Arguments, StringComparison.Ordinal);
        Assert.Contains("--runtime linux-x64", publish.Arguments, StringComparison.Ordinal);
        Assert.Contains("--configuration Release", publish.Arguments, StringComparison.Ordinal);

        // The image's worker carries ONNX Runtime's CUDA build (FunctionsPublishTests checks what that switch publishes).
        Assert.Contains("-p:SpecfnGpu=true", publish.Arguments, StringComparison.Ordinal);
    }

    [Fact]
    public void BuildStage_RestoresInLockedMode_WithTheRootBuildFiles()
    {
        // CI=true turns on RestoreLockedMode (Directory.Build.props): the image is built from the committed lock files.
        var build = Stages.Single(s => s.Image.StartsWith("mcr.microsoft.com/dotnet/sdk:", StringComparison.Ordinal));
        var publishLine = build.Instructions.Single(i => i.Keyword == "RUN" && i.Arguments.Contains("dotnet publish", StringComparison.Ordinal)).Line;
        var env = build.Instructions.Where(i => i.Keyword == "ENV" && i.Line < publishLine).Select(i => i.Arguments);
        var copied = build.Instructions.Where(i => i.Keyword == "COPY").SelectMany(i => i.Arguments.Split(' ', StringSplitOptions.RemoveEmptyEntries)).ToHashSet();

        Assert.Contains(env, e => e.Split(' ', StringSplitOptions.RemoveEmptyEntries).Contains("CI=true"));
        Assert.Contains("<RestoreLockedMode Condition=\"'$(CI)' == 'true'\">true</RestoreLockedMode>", File.ReadAllText(RepositoryRoot.Combine("Directory.Build.props")), StringComparison.Ordinal);
        // Every root file a local build reads: the Directory.* props and targets, the SDK pin, the analyzer settings.
        foreach (var file in Directory.EnumerateFiles(RepositoryRoot.Path, "Directory.*").Append(RepositoryRoot.Combine("global.json")).Append(RepositoryRoot.Combine(".editorconfig")))
        {
            Assert.Contains(System.IO.Path.GetFileName(file), copied);
        }
    }

    [Fact]
    public void BuildStage_CopiesEveryRepositoryRootFileTheSourceProjectsInclude()
    {
        // A project item like <None Include="../../host.json" .../> needs that file in the build context's copy, or the
        // publish fails ("Could not copy the file /src/host.json"). Optional items (Condition="Exists(...)") are exempt.
        var build = Stages.Single(s => s.Image.StartsWith("mcr.microsoft.com/dotnet/sdk:", StringComparison.Ordinal));
        var copied = build.Instructions.Where(i => i.Keyword == "COPY").SelectMany(i => i.Arguments.Split(' ', StringSplitOptions.RemoveEmptyEntries)).ToHashSet();
        var rootItems = Directory.EnumerateFiles(RepositoryRoot.Combine("src"), "*.csproj", SearchOption.AllDirectories)
            .SelectMany(project => System.Xml.Linq.XDocument.Load(project).Descendants()
                .Where(e => e.Attribute("Include")?.Value.StartsWith("../../", StringComparison.Ordinal) == true
                    && e.Attribute("Condition")?.Value.Contains("Exists(", StringComparison.Ordinal) != true)
                .Select(e => e.Attribute("Include")!.Value["../../".Length..]))
            .ToList();

        Assert.Contains("host.json", rootItems);
        Assert.All(rootItems, file => Assert.Contains(file, copied));
    }

    [Fact]
    public void Image_ShipsTheDemoPairUnderTheModelCatalogRoot()
    {
        var build = Stages.Single(s => s.Image.StartsWith("mcr.microsoft.com/dotnet/sdk:", StringComparison.Ordinal));
        var final = Stages[^1];
        var train = build.Instructions.Single(i => i.Keyword == "RUN" && i.Arguments.Contains("models demo", StringComparison.Ordinal));
        var env = string.Join(' ', final.Instructions.Where(i => i.Keyword == "ENV").Select(i => i.Arguments));
        var copies = final.Instructions.Where(i => i.Keyword == "COPY").Select(i => i.Arguments).ToList();

        Assert.Contains("--out /models/demo", train.Arguments, StringComparison.Ordinal);
        Assert.Contains("Models__Root=/home/site/models", env, StringComparison.Ordinal);
        // The names a submission uses ("verifier": "demo-verifier") are the folder names under the root.
        Assert.Contains(copies, c => c.EndsWith("/models/demo/verifier /home/site/models/demo-verifier", StringComparison.Ordinal));
        Assert.Contains(copies, c => c.EndsWith("/models/demo/drafter /home/site/models/demo-drafter", StringComparison.Ordinal));
    }

    [Fact]
    public void DockerIgnore_ExcludesBuildOutputAndTests()
    {
        var lines = File.ReadAllLines(RepositoryRoot.Combine(".dockerignore")).Select(l => l.Trim()).ToHashSet();

        Assert.Contains("**/bin/", lines);
        Assert.Contains("**/obj/", lines);
        Assert.Contains("tests/", lines);
        Assert.Contains(".git/", lines);
    }

    [Theory]
    [InlineData("mcr.microsoft.com/dotnet/sdk:10.0.100", null)]
    [InlineData("nvidia/cuda:13.0.2-cudnn-runtime-ubuntu24.04", null)]
    [InlineData("nvidia/cuda:12.8.1-cudnn-runtime-ubuntu24.04", null)]
    [InlineData("localhost:5000/app:1.2.3", null)]
    [InlineData("ubuntu:24.04@sha256:0123456789abcdef", null)]
    [InlineData("ubuntu", "has no tag")]
    [InlineData("localhost:5000/app", "has no tag")]
    [InlineData("ubuntu:latest", "uses the 'latest' tag")]
    [InlineData("node:20", "tag '20' names no dotted version (a bare major floats)")]
    public void ImageReference_UnpinnedReason_ExplainsFloatingTags(string reference, string? expected)
    {
        Assert.Equal(expected, ImageReference.Parse(reference).UnpinnedReason);
    }

    [Fact]
    public void Parse_MultiStageWithArgsAndContinuations_ReadsStagesAndUser()
    {
        const string text = """
            # syntax=docker/dockerfile:1
            ARG BASE=ubuntu:24.04
            FROM --platform=linux/amd64 ${BASE} AS first
            RUN echo a && \
                echo b
            USER 1000
            FROM first
            USER root
            RUN true
            """;

        var stages = Dockerfile.Parse(text);

        Assert.Equal(2, stages.Count);
        Assert.Equal("ubuntu:24.04", stages[0].Image);
        Assert.Equal("first", stages[0].Alias);
        Assert.Equal("echo a && echo b", stages[0].Instructions[0].Arguments);
        Assert.Equal("1000", stages[0].User);
        Assert.Equal("first", stages[1].Image);
        Assert.Equal("root", stages[1].User);
    }
}
