using System.Text.Json;
using SpecFunctions.Core.Decoding;
using SpecFunctions.Core.Evaluation;
using SpecFunctions.Core.Sampling;
using SpecFunctions.Core.Storage;
using SpecFunctions.Onnx;

namespace SpecFunctions.Orchestration;

/// <summary>Mapping from submission settings to the engine, shared by every activity.</summary>
public static class EvaluationDefaults
{
    public static JsonSerializerOptions Json { get; } = new(JsonSerializerDefaults.Web);

    /// <summary>Decoding options for a submission: the verifier's EOS ids stop a generation unless the settings ignore them.</summary>
    public static DecodingOptions ToDecodingOptions(EvaluationSettings settings, OnnxLanguageModel verifier) => new()
    {
        Gamma = settings.Gamma,
        MaxNewTokens = settings.MaxNewTokens,
        Seed = settings.Seed,
        StopTokens = settings.IgnoreEos ? [] : verifier.Manifest.EosTokenIds,
        Sampling = new SamplingOptions { Temperature = settings.Temperature, TopK = settings.TopK, TopP = settings.TopP },
    };

    /// <summary>
    /// The content key of a task's whole trace (<see cref="ContentKey"/>): models, the settings as the task runs them (its
    /// own γ, 0 = plain decoding) and all its prompts. A sharded task's shards share it.
    /// </summary>
    public static string TaskContentKey(
        ModelIdentity drafter, ModelIdentity verifierId, OnnxLanguageModel verifier, EvaluationSettings settings, int? taskGamma, IReadOnlyList<string> prompts)
    {
        var gamma = taskGamma ?? settings.Gamma;
        var decoding = ToDecodingOptions(settings with { Gamma = Math.Max(1, gamma) }, verifier);
        return ContentKey.Compute(drafter.Sha256, verifierId.Sha256, RunSettings.From(decoding, baseline: true, settings.Repeats) with { Gamma = gamma }, prompts);
    }

    /// <summary>Encodes a prompt with the verifier's tokenizer (BOS first when the model has one), cut to fit the context.</summary>
    public static int[] Tokenize(OnnxLanguageModel verifier, string prompt)
    {
        var ids = verifier.Tokenizer.Encode(prompt);
        if (verifier.Manifest.BosTokenId is { } bos)
        {
            ids = [bos, .. ids];
        }

        if (ids.Length == 0)
        {
            throw new ArgumentException("prompt encodes to no tokens", nameof(prompt));
        }

        // Keep the most recent context; the generation needs room after the prompt.
        var limit = Math.Max(1, verifier.ContextLength / 2);
        return ids.Length > limit ? ids[^limit..] : ids;
    }
}
