using SpecFunctions.Demo;

namespace SpecFunctions.Demo.Tests;

public sealed class DemoTrainerTests
{
    [Fact]
    public void Train_SameSeed_ByteIdenticalOnnx()
    {
        var first = DemoOnnxExporter.ExportToBytes(DemoTrainer.Train(TestConfigs.Tiny(), DemoCorpus.Default, TestConfigs.Short, seed: 7));
        var second = DemoOnnxExporter.ExportToBytes(DemoTrainer.Train(TestConfigs.Tiny(), DemoCorpus.Default, TestConfigs.Short, seed: 7));

        Assert.Equal(first, second);
    }

    [Fact]
    public void Train_DifferentSeed_DifferentOnnx()
    {
        var first = DemoOnnxExporter.ExportToBytes(DemoTrainer.Train(TestConfigs.Tiny(), DemoCorpus.Default, TestConfigs.Short, seed: 7));
        var second = DemoOnnxExporter.ExportToBytes(DemoTrainer.Train(TestConfigs.Tiny(), DemoCorpus.Default, TestConfigs.Short, seed: 8));

        Assert.NotEqual(first, second);
    }

    [Fact]
    public void Train_OneShardOrFour_SameLossCurveWithinRounding()
    {
        // Shards only change the order of the gradient sum, so the runs agree up to float rounding.
        var one = Losses(TestConfigs.Short with { Shards = 1 });
        var four = Losses(TestConfigs.Short with { Shards = 4 });

        Assert.Equal(one.Count, four.Count);
        for (var i = 0; i < one.Count; i++)
        {
            Assert.InRange(four[i], one[i] - 1e-3, one[i] + 1e-3);
        }
    }

    [Fact]
    public void Train_Progress_LossFallsFromUniform()
    {
        var losses = Losses(TestConfigs.Short with { Steps = 200, BatchSize = 32, ReportEvery = 50 });

        // Uniform over 256 bytes is ln 256 = 5.55 nats. Measured with seed 11: the tiny model reaches 4.34 by step 200.
        Assert.Equal(4, losses.Count);
        Assert.True(losses[^1] < Math.Log(256) - 1.0, $"Last report {losses[^1]}");
        Assert.True(losses[^1] < losses[0] - 0.5, $"Loss {losses[0]} → {losses[^1]}");
    }

    [Fact]
    public void Train_MixNamesUnknownLanguage_ThrowsNamingIt()
    {
        var options = TestConfigs.Short with { LanguageMix = new Dictionary<string, double> { ["xx"] = 1 } };

        var error = Assert.Throws<KeyNotFoundException>(() => DemoTrainer.Train(TestConfigs.Tiny(), DemoCorpus.Default, options, seed: 1));

        Assert.Contains("'xx'", error.Message);
    }

    [Fact]
    public void Train_NegativeContextDropout_Throws()
    {
        var options = TestConfigs.Short with { ContextDropout = -0.1 };

        Assert.Throws<ArgumentOutOfRangeException>(() => DemoTrainer.Train(TestConfigs.Tiny(), DemoCorpus.Default, options, seed: 1));
    }

    [Fact]
    public void Backward_TinyModel_MatchesFiniteDifferences()
    {
        var weights = DemoModelWeights.CreateInitial(TestConfigs.Tiny(), seed: 5);
        int[] windows = [256, 256, 72, 101, 108, 108, 84, 104, 101, 32, 99, 97];
        int[] targets = [111, 116];
        var workspace = new MlpWorkspace(weights, 2, withGradients: true);
        Loss(workspace, windows, targets, writeGradient: true);
        workspace.Backward(windows, 2);

        // Parameters that the batch uses: a table row of the newest byte, a hidden weight, an output weight and bias.
        var h0 = weights.Config.HiddenSizes[0];
        var probes = new (float[] Values, float[] Gradient, int Index)[]
        {
            (weights.Table, workspace.TableGrad, ((5 * 257) + 108) * h0 + 3),
            (weights.Table, workspace.TableGrad, ((0 * 257) + 256) * h0 + 1),
            (weights.Layers[0].W, workspace.LayerWGrad[0], 37),
            (weights.Layers[1].W, workspace.LayerWGrad[1], (5 * 256) + 111),
            (weights.Layers[1].B, workspace.LayerBGrad[1], 116),
            (weights.TableBias, workspace.TableBiasGrad, 2),
        };
        var probe = new MlpWorkspace(weights, 2, withGradients: false);
        foreach (var (values, gradient, index) in probes)
        {
            const float h = 1e-2f;
            var saved = values[index];
            values[index] = saved + h;
            var plus = Loss(probe, windows, targets, writeGradient: false);
            values[index] = saved - h;
            var minus = Loss(probe, windows, targets, writeGradient: false);
            values[index] = saved;
            var numeric = (plus - minus) / (2 * h);

            Assert.InRange(gradient[index], numeric - 2e-3 - 0.02 * Math.Abs(numeric), numeric + 2e-3 + 0.02 * Math.Abs(numeric));
        }
    }

    /// <summary>Mean cross-entropy of the batch; optionally leaves d(mean loss)/d(logits) in the workspace.</summary>
    private static double Loss(MlpWorkspace workspace, int[] windows, int[] targets, bool writeGradient)
    {
        workspace.Forward(windows, targets.Length);
        double loss = 0;
        var logProbabilities = new double[256];
        for (var i = 0; i < targets.Length; i++)
        {
            var row = workspace.Logits.AsSpan(i * 256, 256);
            DemoEvaluation.LogSoftmax(row, 1.0, logProbabilities);
            loss -= logProbabilities[targets[i]];
            if (writeGradient)
            {
                for (var x = 0; x < 256; x++)
                {
                    row[x] = (float)((Math.Exp(logProbabilities[x]) - (x == targets[i] ? 1 : 0)) / targets.Length);
                }
            }
        }

        return loss / targets.Length;
    }

    private static List<double> Losses(DemoTrainingOptions options)
    {
        var losses = new List<double>();
        DemoTrainer.Train(TestConfigs.Tiny(), DemoCorpus.Default, options, seed: 11, new ListProgress(losses));
        return losses;
    }

    private sealed class ListProgress(List<double> losses) : IProgress<DemoTrainingProgress>
    {
        public void Report(DemoTrainingProgress value) => losses.Add(value.Loss);
    }
}
