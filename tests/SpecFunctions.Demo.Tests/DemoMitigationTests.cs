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

    [Theory]
    [InlineData(0.5)]
    [InlineData(1.5)]
    public void Run_AtTheRunsTemperature_MeasuresDTWithBothDistributionsAtIt_AndLeavesTheNetworkUnscaled(double temperature)
    {
        // Random networks (not the trained pair): D_T at the run's temperature T is −Σ p_T log q_T over every prefix of
        // the dev prompt, p_T = softmax(z_verifier / T), q_T = softmax(z_drafter / T), computed here by hand.
        var verifier = DemoModelWeights.CreateInitial(DemoModelConfig.Verifier, seed: 5);
        var drafter = DemoModelWeights.CreateInitial(DemoModelConfig.Drafter, seed: 6);
        const string dev = "Привет, мир";
        var bytes = System.Text.Encoding.UTF8.GetBytes(dev);
        double CrossEntropy(double t)
        {
            double sum = 0;
            for (var i = 1; i <= bytes.Length; i++)
            {
                var p = Softmax(new DemoModel(verifier).Forward(bytes.AsSpan(0, i)), t);
                var q = Softmax(new DemoModel(drafter).Forward(bytes.AsSpan(0, i)), t);
                sum -= p.Zip(q, (a, b) => a * Math.Log(b)).Sum();
            }

            return sum / bytes.Length;
        }

        using var fineTunable = new MlpFineTunableDrafter(verifier, drafter);
        var result = DrafterMitigation.Run(
            fineTunable, MitigationStrategies.None, WeightRule.ShiftByMinimum, [new MitigationTask("ru", 1.0, ["x"], [dev])], 1,
            MitigationOptions.Mlp with { Temperature = temperature });

        Assert.Equal(CrossEntropy(temperature), result.CrossEntropyBefore[0], 4);
        Assert.NotEqual(CrossEntropy(1), result.CrossEntropyBefore[0], 2);
        // The bake of 1/T is undone: the drafter that leaves is the network the run samples at T.
        var context = bytes.AsSpan(0, 5);
        var original = new DemoModel(drafter).Forward(context);
        var left = new DemoModel(fineTunable.Weights).Forward(context);
        for (var x = 0; x < original.Length; x++)
        {
            Assert.Equal(original[x], left[x], 4);
        }
    }

    private static double[] Softmax(float[] logits, double temperature)
    {
        var max = logits.Max();
        var e = logits.Select(z => Math.Exp((z - max) / temperature)).ToArray();
        var total = e.Sum();
        return [.. e.Select(v => v / total)];
    }

    [Fact]
    public void ExpectedTokens_Alpha_GeometricSum()
    {
        Assert.Equal(1 + 0.5 + 0.25 + 0.125 + 0.0625, SpecFunctions.Core.Metrics.SpeculativeMath.ExpectedTokensPerStep(0.5, 4), 12);
        Assert.Equal(5, SpecFunctions.Core.Metrics.SpeculativeMath.ExpectedTokensPerStep(1.0, 4));
        Assert.Equal(1, SpecFunctions.Core.Metrics.SpeculativeMath.ExpectedTokensPerStep(0.0, 4));
    }
}
