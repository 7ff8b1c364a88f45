using System.Diagnostics;
using SpecFunctions.Demo;

var corpus = DemoCorpus.Default;
foreach (var (config, options) in new[] { (DemoModelConfig.Verifier, DemoModels.VerifierTraining), (DemoModelConfig.Drafter, DemoModels.DrafterTraining) })
{
    var sw = Stopwatch.StartNew();
    var w = DemoTrainer.Train(config, corpus, options, 1, new Progress(), default);
    Console.WriteLine($"{config.Name}: {sw.Elapsed.TotalSeconds:F1} s, {w.SizeInBytes / 1e6:F2} MB");
}

sealed class Progress : IProgress<DemoTrainingProgress>
{
    public void Report(DemoTrainingProgress value) => Console.WriteLine($"  {value.Model} {value.Step}/{value.TotalSteps} loss {value.Loss:F3} {value.Elapsed.TotalSeconds:F1}s");
}
