using SpecFunctions.Demo;

namespace SpecFunctions.Demo.Tests;

/// <summary>Trains the real demo pair (seed 1) once for all test classes of the collection.</summary>
public sealed class DemoModelsFixture : IAsyncLifetime
{
    public const int Seed = 1;

    public string Root { get; } = Path.Combine(Path.GetTempPath(), "specfn-demo-tests-" + Guid.NewGuid().ToString("N"));

    public DemoModelPaths Paths { get; private set; } = null!;

    public DemoModelWeights Verifier { get; private set; } = null!;

    public DemoModelWeights Drafter { get; private set; } = null!;

    public async Task InitializeAsync()
    {
        Paths = await DemoModels.EnsureAsync(Root, Seed);
        Verifier = DemoModels.LoadWeights(Paths.VerifierDirectory);
        Drafter = DemoModels.LoadWeights(Paths.DrafterDirectory);
    }

    public Task DisposeAsync()
    {
        if (Directory.Exists(Root))
        {
            Directory.Delete(Root, recursive: true);
        }

        return Task.CompletedTask;
    }
}

[CollectionDefinition(Name)]
public sealed class DemoModelsCollection : ICollectionFixture<DemoModelsFixture>
{
    public const string Name = "Demo models";
}
