using SpecFunctions.Core.Models;
using SpecFunctions.Core.Tracing;

namespace SpecFunctions.Core.Decoding;

/// <summary>
/// Runs one task's prompts: speculative decoding, then the autoregressive baseline on the same prompt and budget,
/// streaming every <see cref="StepTrace"/> and one <see cref="PromptTrace"/> per prompt to the sink.
/// </summary>
public sealed class TaskRunner(ILanguageModel drafter, ILanguageModel verifier, DecodingOptions options)
{
    /// <summary>Run the verifier-only baseline after each prompt (needed for measured speed-up, c and v_γ). Default true.</summary>
    public bool RunBaseline { get; init; } = true;

    /// <summary>Runs all prompts in order; reports the number of prompts finished.</summary>
    public void Run(IReadOnlyList<int[]> prompts, ITraceSink sink, IProgress<int>? progress = null, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(prompts);
        ArgumentNullException.ThrowIfNull(sink);
        var speculative = new SpeculativeDecoder(drafter, verifier, options);
        var baseline = RunBaseline ? new AutoregressiveDecoder(verifier, options) : null;
        for (var i = 0; i < prompts.Count; i++)
        {
            cancellationToken.ThrowIfCancellationRequested();
            var prompt = prompts[i];
            var result = speculative.Generate(prompt, sink, i, cancellationToken);
            var reference = baseline?.Generate(prompt, i, cancellationToken);
            sink.Write(new PromptTrace
            {
                Prompt = i,
                PromptTokens = prompt.Length,
                GeneratedTokens = result.Tokens.Length,
                Steps = result.Steps,
                StopReason = result.StopReason,
                SpeculativeMs = result.Elapsed.TotalMilliseconds,
                BaselineMs = reference?.Elapsed.TotalMilliseconds,
                BaselineTokens = reference?.Tokens.Length,
                BaselineStepMs = reference is { Steps: > 0 } ? reference.VerifierTime.TotalMilliseconds / reference.Steps : null,
                Tokens = options.RecordTokens ? result.Tokens : null,
            });
            progress?.Report(i + 1);
        }
    }
}
