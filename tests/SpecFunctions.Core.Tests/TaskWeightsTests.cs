using SpecFunctions.Core.Mitigation;

namespace SpecFunctions.Core.Tests;

public class TaskWeightsTests
{
    [Theory]
    [InlineData(WeightRule.ShiftByMinimum, new[] { 1.0, 2.0, 4.0 }, new[] { 0.0, 1.0, 3.0 })]
    [InlineData(WeightRule.AboveMean, new[] { 1.0, 2.0, 4.0 }, new[] { 0.0, 0.0, 5.0 / 3 })]
    [InlineData(WeightRule.CrossEntropy, new[] { 1.0, 2.0, 4.0 }, new[] { 1.0, 2.0, 4.0 })]
    [InlineData(WeightRule.VarianceGradient, new[] { 1.0, 2.0, 4.0 }, new[] { -8.0 / 9, -2.0 / 9, 10.0 / 9 })]
    [InlineData(WeightRule.Uniform, new[] { 1.0, 2.0, 4.0 }, new[] { 1.0, 1.0, 1.0 })]
    [InlineData(WeightRule.ShiftByMinimum, new[] { 0.5, 0.5 }, new[] { 0.0, 0.0 })]
    [InlineData(WeightRule.AboveMean, new[] { 2.0, 1.0, 1.0, 0.0 }, new[] { 1.0, 0.0, 0.0, 0.0 })]
    public void Compute_HandComputedTables(WeightRule rule, double[] crossEntropy, double[] expected)
    {
        var weights = TaskWeights.Compute(crossEntropy, rule);
        Assert.Equal(expected.Length, weights.Length);
        for (var i = 0; i < expected.Length; i++)
        {
            Assert.Equal(expected[i], weights[i], 12);
        }
    }

    [Fact]
    public void VarianceGradient_MatchesFiniteDifferenceOfU()
    {
        double[] d = [0.7, 1.9, 1.1, 2.6];
        double U(double[] x) => x.Average(v => (v - x.Average()) * (v - x.Average()));
        var gradient = TaskWeights.Compute(d, WeightRule.VarianceGradient);
        for (var i = 0; i < d.Length; i++)
        {
            var plus = (double[])d.Clone();
            var minus = (double[])d.Clone();
            plus[i] += 1e-6;
            minus[i] -= 1e-6;
            Assert.Equal((U(plus) - U(minus)) / 2e-6, gradient[i], 6);
        }
    }

    [Fact]
    public void SamplingProbabilities_AllZero_IsUniform_OtherwiseProportionalToMagnitude()
    {
        Assert.Equal([0.5, 0.5], TaskWeights.SamplingProbabilities([0.0, 0.0]));
        var p = TaskWeights.SamplingProbabilities([-1.0, 0.0, 3.0]);
        Assert.Equal([0.25, 0.0, 0.75], p);
    }

    [Fact]
    public void Compute_NegativeOrNaN_Throws()
    {
        Assert.Throws<ArgumentException>(() => TaskWeights.Compute([1.0, double.NaN], WeightRule.ShiftByMinimum));
        Assert.Throws<ArgumentException>(() => TaskWeights.Compute([], WeightRule.ShiftByMinimum));
    }
}
