using SpecFunctions.Core.Decoding;
using SpecFunctions.Core.Sampling;
using SpecFunctions.OnnxGraphs;
using SpecFunctions.TestKit;
using Xunit.Abstractions;

namespace SpecFunctions.Onnx.Tests;

// The lead's engine on real ONNX Runtime sessions: greedy speculative decoding must reproduce the verifier's own greedy decode.
public sealed class SpeculativeDecodingOnnxTests(ITestOutputHelper output) : IDisposable
{
    private readonly TempFolder _temp = new();

    public void Dispose() => _temp.Dispose();

    [Theory]
    [InlineData("same-weights", 4)]
    [InlineData("other-seed", 4)]
    [InlineData("window-model", 3)]
    [InlineData("scaled-weights", 4)]
    [InlineData("scaled-weights", 1)]
    public void Generate_GreedyOnTinyModels_EmitsVerifierGreedySequence(string drafterKind, int gamma)
    {
        using var verifier = OnnxLanguageModel.Load(TinyTransformerBuilder.WriteModelFolder(_temp.Sub("verifier"), new TinyTransformerConfig { Seed = 1 }));
        using var drafter = OnnxLanguageModel.Load(drafterKind switch
        {
            "same-weights" => TinyTransformerBuilder.WriteModelFolder(_temp.Sub("drafter"), new TinyTransformerConfig { Seed = 1 }),
            // Same random draws at 90 % scale: a similar model, so some drafts are accepted and some rejected.
            "scaled-weights" => TinyTransformerBuilder.WriteModelFolder(_temp.Sub("drafter"), new TinyTransformerConfig { Seed = 1, WeightScale = 0.9f }),
            "other-seed" => TinyTransformerBuilder.WriteModelFolder(_temp.Sub("drafter"), new TinyTransformerConfig { Seed = 2, Layers = 1 }),
            _ => TinyWindowModelBuilder.WriteModelFolder(_temp.Sub("drafter"), window: 4),
        });
        ModelPair.EnsureCompatible(drafter, verifier);
        var options = new DecodingOptions { Gamma = gamma, MaxNewTokens = 80, Sampling = SamplingOptions.Greedy };
        int[] prompt = [256, .. verifier.Tokenizer.Encode("Hello")];

        var expected = new AutoregressiveDecoder(verifier, options).Generate(prompt);
        var speculative = new SpeculativeDecoder(drafter, verifier, options).Generate(prompt);

        output.WriteLine($"{drafterKind}, γ={gamma}: {speculative.AcceptedTokens}/{speculative.DraftedTokens} drafts accepted in {speculative.Steps} steps");
        Assert.Equal(expected.Tokens, speculative.Tokens);
        Assert.Equal(80, speculative.Tokens.Length);
        if (drafterKind == "same-weights")
        {
            // Identical weights: every draft is accepted, so each step emits γ + 1 tokens.
            Assert.Equal(speculative.DraftedTokens, speculative.AcceptedTokens);
            Assert.Equal(16, speculative.Steps);
        }
        else
        {
            Assert.True(speculative.AcceptedTokens < speculative.DraftedTokens, "a different drafter must be rejected sometimes, or the rewind path went untested");
        }
    }
}
