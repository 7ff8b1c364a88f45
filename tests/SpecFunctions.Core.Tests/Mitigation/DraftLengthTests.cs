using SpecFunctions.Core.Metrics;
using SpecFunctions.Core.Mitigation;

namespace SpecFunctions.Core.Tests.Mitigation;

/// <summary>γ* from α and the measured costs (method.md §5), as gating chooses it on the dev split.</summary>
public class DraftLengthTests
{
    // v_γ of a verifier whose call grows 5 % per extra position; c = 0.1.
    private static readonly double[] _profile = [1.05, 1.10, 1.15, 1.20, 1.25, 1.30];

    [Theory]
    [InlineData(0.05, 0)]   // the drafter is almost never right: plain decoding pays best
    [InlineData(0.50, 2)]
    [InlineData(0.80, 5)]
    [InlineData(0.95, 6)]   // nearly always right: the longest draft the profile covers
    public void Best_IsTheArgmaxOfTheRefinedPrediction(double alpha, int expected)
    {
        var predicted = DraftLength.Predict(alpha, 0.1, _profile);

        Assert.Equal(1.0, predicted[0]);
        for (var g = 1; g <= _profile.Length; g++)
        {
            Assert.Equal(SpeculativeMath.RefinedSpeedup(alpha, g, 0.1, _profile[g - 1]), predicted[g], 12);
        }

        Assert.Equal(expected, DraftLength.Best(alpha, 0.1, _profile));
        Assert.Equal(predicted.Max(), predicted[expected]);
    }
}
