using SpecFunctions.Core.Tracing;

namespace SpecFunctions.Core.Metrics;

/// <summary>
/// Sums over one prompt's trace records: everything task metrics need, kept per prompt so that confidence intervals
/// can bootstrap over prompts. Built by streaming records through <see cref="TaskStatisticsBuilder"/>.
/// </summary>
public sealed record PromptStatistics
{
    public int Prompt { get; init; }
    public int Steps { get; set; }
    public int Drafted { get; set; }
    public int Accepted { get; set; }
    public int Emitted { get; set; }
    public double AlphaSum { get; set; }
    public double CrossEntropySum { get; set; }
    public double KlSum { get; set; }

    /// <summary>Σ over drafted prefixes of f_γ(α(s)), for the per-prefix expected speed-up.</summary>
    public double PerPrefixTokensSum { get; set; }

    /// <summary>
    /// Prefixes the statistics above are taken over: the prompt's reference prefixes (method.md §3). Only a trace
    /// written before reference prefixes existed falls back to its drafted positions (<see cref="FromReference"/> false).
    /// </summary>
    public int Positions { get; set; }

    /// <summary>The statistics come from the prompt's <see cref="ReferenceTrace"/>.</summary>
    public bool FromReference { get; set; }

    /// <summary>"Realised, in-run" sums over drafted positions (untimed passes and old traces only; they never feed U).</summary>
    public double InRunAlphaSum { get; set; }
    public double InRunCrossEntropySum { get; set; }
    public double InRunKlSum { get; set; }
    public double InRunPerPrefixTokensSum { get; set; }
    public int InRunPositions { get; set; }
    public double DrafterMs { get; set; }
    public int DrafterCalls { get; set; }
    public double VerifierMs { get; set; }
    public double SpeculativeMs { get; set; }
    public int GeneratedTokens { get; set; }
    public double? BaselineMs { get; set; }
    public int? BaselineTokens { get; set; }
    public double? BaselineStepMs { get; set; }

    /// <summary>Decoded plainly (γ = 0): the step times are those of an untimed statistics pass, left out of c and v_γ.</summary>
    public bool Plain { get; set; }

    /// <summary>The prompt's verifier cost profile (<see cref="PromptTrace.VerifierCallMs"/>), or null.</summary>
    public double[]? VerifierCallMs { get; set; }

    /// <summary>The prompt's step-cost profile (<see cref="PromptTrace.StepMsByGamma"/>), or null.</summary>
    public double[]? StepMsByGamma { get; set; }

    /// <summary>Per draft position i: steps that proposed a draft at i, and steps that accepted it.</summary>
    public int[] ProposedAt { get; set; } = [];
    public int[] AcceptedAt { get; set; } = [];

    /// <summary>Steps whose draft at position i was verified: every earlier draft of the step was accepted.</summary>
    public int[] ReachedAt { get; set; } = [];
}

/// <summary>Streams trace records into per-prompt sums (constant memory per prompt, not per step).</summary>
public sealed class TaskStatisticsBuilder(int gamma) : ITraceSink
{
    private readonly SortedDictionary<int, PromptStatistics> _prompts = [];

    public int Gamma { get; } = gamma;

    public void Add(TraceRecord record)
    {
        var stats = Get(record.Prompt);
        switch (record)
        {
            case StepTrace step:
                stats.Steps++;
                stats.Drafted += step.Gamma;
                stats.Accepted += step.Accepted;
                stats.Emitted += step.Emitted;
                stats.DrafterMs += step.DrafterMs;
                stats.DrafterCalls += step.DrafterCalls;
                stats.VerifierMs += step.VerifierMs;
                for (var i = 0; i < step.Alpha.Length; i++)
                {
                    stats.InRunAlphaSum += step.Alpha[i];
                    stats.InRunPerPrefixTokensSum += SpeculativeMath.ExpectedTokensPerStep(step.Alpha[i], Gamma);
                    stats.InRunPositions++;
                }

                foreach (var ce in step.CrossEntropy)
                {
                    stats.InRunCrossEntropySum += ce;
                }

                foreach (var kl in step.Kl)
                {
                    stats.InRunKlSum += kl;
                }

                for (var i = 0; i < step.Gamma && i < Gamma; i++)
                {
                    stats.ProposedAt[i]++;
                    if (step.Accepted >= i)
                    {
                        stats.ReachedAt[i]++;
                    }

                    if (step.Accepted > i)
                    {
                        stats.AcceptedAt[i]++;
                    }
                }

                break;
            case ReferenceTrace reference:
                stats.FromReference = true;
                stats.AlphaSum = Sum(reference.Alpha, reference);
                stats.CrossEntropySum = Sum(reference.CrossEntropy, reference);
                stats.KlSum = Sum(reference.Kl, reference);
                stats.PerPrefixTokensSum = reference.Alpha.Sum(a => SpeculativeMath.ExpectedTokensPerStep(a, Gamma));
                stats.Positions = reference.Alpha.Length;
                break;
            case PromptTrace prompt:
                stats.SpeculativeMs = prompt.SpeculativeMs;
                stats.GeneratedTokens = prompt.GeneratedTokens;
                stats.BaselineMs = prompt.BaselineMs;
                stats.BaselineTokens = prompt.BaselineTokens;
                stats.BaselineStepMs = prompt.BaselineStepMs;
                stats.VerifierCallMs = prompt.VerifierCallMs;
                stats.StepMsByGamma = prompt.StepMsByGamma;
                stats.Plain = prompt.Plain;
                break;
        }
    }

    void ITraceSink.Write(TraceRecord record) => Add(record);

    public void AddRange(IEnumerable<TraceRecord> records)
    {
        foreach (var record in records)
        {
            Add(record);
        }
    }

    /// <summary>
    /// The per-prompt sums. A prompt without a <see cref="ReferenceTrace"/> (a trace written before reference prefixes)
    /// takes its in-run figures as its statistics.
    /// </summary>
    public IReadOnlyList<PromptStatistics> Build()
    {
        foreach (var stats in _prompts.Values.Where(s => !s.FromReference))
        {
            stats.AlphaSum = stats.InRunAlphaSum;
            stats.CrossEntropySum = stats.InRunCrossEntropySum;
            stats.KlSum = stats.InRunKlSum;
            stats.PerPrefixTokensSum = stats.InRunPerPrefixTokensSum;
            stats.Positions = stats.InRunPositions;
        }

        return [.. _prompts.Values];
    }

    /// <summary>Σ of one statistic over a prompt's reference prefixes; a NaN or negative value is an error that names the prompt.</summary>
    private static double Sum(double[] values, ReferenceTrace reference)
    {
        var sum = 0.0;
        foreach (var v in values)
        {
            if (!(v >= 0) || double.IsInfinity(v))
            {
                throw new InvalidDataException($"prompt {reference.Prompt}: a reference statistic is {v} (must be finite and ≥ 0)");
            }

            sum += v;
        }

        return sum;
    }

    private PromptStatistics Get(int prompt)
    {
        if (!_prompts.TryGetValue(prompt, out var stats))
        {
            stats = new PromptStatistics { Prompt = prompt, ProposedAt = new int[Gamma], AcceptedAt = new int[Gamma], ReachedAt = new int[Gamma] };
            _prompts.Add(prompt, stats);
        }

        return stats;
    }
}
