using SpecFunctions.Core.Mitigation;
using SpecFunctions.Core.Mitigation.Training;
using SpecFunctions.Demo;
using SpecFunctions.Demo.Hosting;

namespace SpecFunctions.Demo.Tests;

/// <summary>The pure parts of <see cref="DrafterMitigation"/> and <see cref="MlpFineTunableDrafter"/>; training runs are tested through DemoDrafterTrainer.</summary>
public sealed class DemoMitigationTests
{
    [Fact]
    public void SamplingWeights_VarianceGradient_NegativeClampedPositiveProportionalToExcess()
    {
        double[] d = [1.0, 2.0, 4.0, 5.0];

        var weights = DrafterMitigation.SamplingWeights(d, WeightRule.VarianceGradient);

        // Mean 3: tasks 0 and 1 are better than average (negative gradient weight) and get none.
        Assert.Equal(0, weights[0]);
        Assert.Equal(0, weights[1]);
        Assert.Equal(2.0, weights[3] / weights[2], 12);
    }

    [Fact]
    public void SamplingWeights_AllTasksEqual_Uniform()
    {
        var weights = DrafterMitigation.SamplingWeights([2.5, 2.5, 2.5], WeightRule.ShiftByMinimum);

        Assert.Equal([1.0, 1.0, 1.0], weights);
    }

    [Fact]
    public void Unfairness_KnownValues_PopulationVariance()
    {
        // Mean 2.5; squared deviations 2.25, 0.25, 0.25, 2.25 → 5 / 4.
        Assert.Equal(1.25, SpecFunctions.Core.Metrics.FairnessMetrics.UnfairnessOf([1.0, 2.0, 3.0, 4.0]), 12);
        Assert.Equal(0, SpecFunctions.Core.Metrics.FairnessMetrics.UnfairnessOf([3.0, 3.0]));
    }

    [Fact]
    public void WithOutputTemperature_Tau_DividesLogitsAndLeavesInputAlone()
    {
        var weights = DemoModelWeights.CreateInitial(DemoModelConfig.Drafter, seed: 3);
        var context = "Hola, ¿qué tal?"u8.ToArray();
        var before = new DemoModel(weights).Forward(context);

        var scaled = MlpFineTunableDrafter.WithOutputTemperature(weights, 1.6);

        var after = new DemoModel(scaled).Forward(context);
        Assert.Equal(before, new DemoModel(weights).Forward(context));
        for (var x = 0; x < before.Length; x++)
        {
            Assert.Equal(before[x] / 1.6, after[x], 4);
        }
    }

    [Fact]
    public void ExpectedTokens_Alpha_GeometricSum()
    {
        Assert.Equal(1 + 0.5 + 0.25 + 0.125 + 0.0625, SpecFunctions.Core.Metrics.SpeculativeMath.ExpectedTokensPerStep(0.5, 4), 12);
        Assert.Equal(5, SpecFunctions.Core.Metrics.SpeculativeMath.ExpectedTokensPerStep(1.0, 4));
        Assert.Equal(1, SpecFunctions.Core.Metrics.SpeculativeMath.ExpectedTokensPerStep(0.0, 4));
    }
}
