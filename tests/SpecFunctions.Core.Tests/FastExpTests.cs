using SpecFunctions.Core.Sampling;

namespace SpecFunctions.Core.Tests;

public class FastExpTests
{
    [Fact]
    public void Exp_IsWithinTwoUlpsOfTheCorrectlyRoundedValue_AcrossTheFloatRange()
    {
        // 200k points over the whole normal range, both paths (vector body and scalar tail).
        var x = Enumerable.Range(0, 200_001).Select(i => -87.3f + (i * (87.3f + 88.3f) / 200_000f)).ToArray();
        var y = new float[x.Length];
        FastExp.ExpShiftedSum(x, 0f, 1f, y);
        var worst = 0.0;
        for (var i = 0; i < x.Length; i++)
        {
            var exact = Math.Exp(x[i]);
            worst = Math.Max(worst, Math.Abs(y[i] - exact) / exact);
            Assert.Equal(y[i], FastExp.Exp(x[i]), y[i] * 1e-6f); // the scalar tail agrees with the vector body
        }

        // float has 2^-23 ≈ 1.19e-7 spacing relative to the value: two units in the last place.
        Assert.InRange(worst, 0, 2.4e-7);
    }

    [Fact]
    public void ExpShiftedSum_EveryLength_512And256BitBodiesAndTheTail_AgreeWithTheScalarFormula()
    {
        // Lengths 1..70 cover every split between the 16-lane body (AVX-512 machines), the 8-lane body and the tail.
        var random = new Random(3);
        for (var length = 1; length <= 70; length++)
        {
            var x = Enumerable.Range(0, length).Select(i => i % 13 == 5 ? float.NegativeInfinity : (float)(random.NextDouble() * 40 - 30)).ToArray();
            var y = new float[length];
            var sum = FastExp.ExpShiftedSum(x, 4f, 0.7f, y);
            var expectedSum = 0.0;
            for (var i = 0; i < length; i++)
            {
                var expected = FastExp.Exp((x[i] - 4f) * 0.7f);
                Assert.Equal(expected, y[i], Math.Max(expected, 1e-30f) * 1e-6f);
                expectedSum += expected;
            }

            Assert.Equal(expectedSum, sum, expectedSum * 1e-6);
        }
    }

    [Fact]
    public void ExpShiftedSum_UnderflowsToZero_AndReturnsTheSumOfWhatItWrote()
    {
        float[] logits = [0f, -1f, float.NegativeInfinity, -100f, 3f, 2.5f, -87.4f, 1f, -0.25f, 0.5f, float.MinValue];
        var y = new float[logits.Length];
        var sum = FastExp.ExpShiftedSum(logits, 3f, 0.5f, y);

        for (var i = 0; i < logits.Length; i++)
        {
            var argument = (logits[i] - 3.0) * 0.5;
            var expected = argument < -87.33654 ? 0.0 : Math.Exp(argument);
            Assert.Equal(expected, y[i], 1e-7 * Math.Max(expected, 1e-30));
        }

        Assert.Equal(0f, y[2]);
        Assert.Equal(0f, y[^1]);
        Assert.Equal(y.Sum(), sum, 1e-6f);
    }
}
