namespace SpecFunctions.Core.Mitigation.Training;

/// <summary>What <see cref="DrafterMitigation.FineTune"/> did.</summary>
/// <param name="StepsPerTask">How many steps sampled each task.</param>
/// <param name="FinalTaskWeights">Task weights in force at the end (after the last reweight).</param>
public sealed record FineTuneRun(IReadOnlyList<int> StepsPerTask, IReadOnlyList<double> FinalTaskWeights);
