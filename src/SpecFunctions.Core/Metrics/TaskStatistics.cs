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

    /// <summary>Positions with statistics recorded (may be fewer than <see cref="Drafted"/> when statistics were off).</summary>
    public int Positions { get; set; }
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
                    stats.AlphaSum += step.Alpha[i];
                    stats.PerPrefixTokensSum += SpeculativeMath.ExpectedTokensPerStep(step.Alpha[i], Gamma);
                    stats.Positions++;
                }

                foreach (var ce in step.CrossEntropy)
                {
                    stats.CrossEntropySum += ce;
                }

                foreach (var kl in step.Kl)
                {
                    stats.KlSum += kl;
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
            case PromptTrace prompt:
                stats.SpeculativeMs = prompt.SpeculativeMs;
                stats.GeneratedTokens = prompt.GeneratedTokens;
                stats.BaselineMs = prompt.BaselineMs;
                stats.BaselineTokens = prompt.BaselineTokens;
                stats.BaselineStepMs = prompt.BaselineStepMs;
                stats.VerifierCallMs = prompt.VerifierCallMs;
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

    public IReadOnlyList<PromptStatistics> Build() => [.. _prompts.Values];

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
