using SpecFunctions.OnnxGraphs;
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;
using F = TorchSharp.torch.nn.functional;

namespace SpecFunctions.Training;

/// <summary>One pre-norm block: LayerNorm → multi-head causal attention → residual, LayerNorm → SiLU MLP → residual.</summary>
internal sealed class TorchTransformerBlock : nn.Module
{
    // Matrices are [in, out] (x @ W), the layout SpecFunctions.OnnxGraphs.TinyTransformer and its ONNX graph use.
    private readonly Parameter norm1_scale;
    private readonly Parameter norm1_bias;
    private readonly Parameter query;
    private readonly Parameter key;
    private readonly Parameter value;
    private readonly Parameter output;
    private readonly Parameter norm2_scale;
    private readonly Parameter norm2_bias;
    private readonly Parameter up;
    private readonly Parameter up_bias;
    private readonly Parameter down;
    private readonly Parameter down_bias;
    private readonly int _heads;

    public TorchTransformerBlock(string name, TinyTransformerConfig config, Generator generator)
        : base(name)
    {
        int d = config.ModelDim, h = config.HiddenDim;
        _heads = config.Heads;
        // GPT-2's initialisation: N(0, 0.02), residual projections scaled by 1/sqrt(2 · layers).
        var residual = 0.02 / Math.Sqrt(2.0 * config.Layers);
        norm1_scale = Fill(ones(d));
        norm1_bias = Fill(zeros(d));
        query = Fill(normal(0, 0.02, [d, d], generator: generator));
        key = Fill(normal(0, 0.02, [d, d], generator: generator));
        value = Fill(normal(0, 0.02, [d, d], generator: generator));
        output = Fill(normal(0, residual, [d, d], generator: generator));
        norm2_scale = Fill(ones(d));
        norm2_bias = Fill(zeros(d));
        up = Fill(normal(0, 0.02, [d, h], generator: generator));
        up_bias = Fill(zeros(h));
        down = Fill(normal(0, residual, [h, d], generator: generator));
        down_bias = Fill(zeros(d));
        RegisterComponents();
    }

    public Tensor Forward(Tensor x)
    {
        long batch = x.shape[0], n = x.shape[1], d = x.shape[2], hd = d / _heads;
        var normed = F.layer_norm(x, [d], norm1_scale, norm1_bias, TinyTransformer.NormEpsilon);
        Tensor Heads(Tensor weight) => normed.matmul(weight).view(batch, n, _heads, hd).transpose(1, 2);
        var context = F.scaled_dot_product_attention(Heads(query), Heads(key), Heads(value), is_casual: true);
        x = x + context.transpose(1, 2).reshape(batch, n, d).matmul(output);
        var hidden = F.silu(F.layer_norm(x, [d], norm2_scale, norm2_bias, TinyTransformer.NormEpsilon).matmul(up) + up_bias);
        return x + hidden.matmul(down) + down_bias;
    }

    public TinyTransformerLayer ToLayer() => new(
        Values(norm1_scale), Values(norm1_bias), Values(query), Values(key), Values(value), Values(output),
        Values(norm2_scale), Values(norm2_bias), Values(up), Values(up_bias), Values(down), Values(down_bias));

    internal static Parameter Fill(Tensor initial) => new(initial, requires_grad: true);

    internal static float[] Values(Tensor tensor) => tensor.detach().contiguous().data<float>().ToArray();
}

/// <summary>
/// The GPT-style decoder of the transformer demo pair in TorchSharp (learned positions, pre-norm, multi-head causal
/// attention, SiLU MLP, untied LM head): the same function as <see cref="TinyTransformer"/>, so its trained weights export
/// through <see cref="TinyTransformerBuilder"/> into the decoder-with-past ONNX layout.
/// </summary>
internal sealed class TorchTransformer : nn.Module<Tensor, Tensor>
{
    private readonly Parameter token_embedding;
    private readonly Parameter position_embedding;
    private readonly ModuleList<TorchTransformerBlock> blocks;
    private readonly Parameter final_norm_scale;
    private readonly Parameter final_norm_bias;
    private readonly Parameter lm_head;

    /// <summary>Random initial weights drawn from <paramref name="seed"/> (a private generator: the global one is left alone).</summary>
    public TorchTransformer(TinyTransformerConfig config, long seed)
        : base("transformer")
    {
        config.Validate();
        Config = config;
        using var generator = new Generator((ulong)seed);
        int d = config.ModelDim, v = config.VocabularySize;
        token_embedding = TorchTransformerBlock.Fill(normal(0, 0.02, [v, d], generator: generator));
        position_embedding = TorchTransformerBlock.Fill(normal(0, 0.01, [config.MaxPositions, d], generator: generator));
        blocks = new ModuleList<TorchTransformerBlock>([.. Enumerable.Range(0, config.Layers).Select(i => new TorchTransformerBlock($"block{i}", config, generator))]);
        final_norm_scale = TorchTransformerBlock.Fill(ones(d));
        final_norm_bias = TorchTransformerBlock.Fill(zeros(d));
        lm_head = TorchTransformerBlock.Fill(normal(0, 0.02, [d, v], generator: generator));
        RegisterComponents();
    }

    public TinyTransformerConfig Config { get; }

    /// <summary>Number of trainable parameters.</summary>
    public long ParameterCount => parameters().Sum(p => p.numel());

    /// <summary>Next-token logits <c>[batch, n, vocabulary]</c> for token ids <c>[batch, n]</c> at positions 0..n-1.</summary>
    public override Tensor forward(Tensor tokens)
    {
        var n = tokens.shape[1];
        if (n > Config.MaxPositions)
        {
            throw new ArgumentException($"{n} tokens exceed the model's {Config.MaxPositions} positions", nameof(tokens));
        }

        var x = token_embedding.index_select(0, tokens.flatten()).view(tokens.shape[0], n, Config.ModelDim)
            + position_embedding.narrow(0, 0, n).unsqueeze(0);
        foreach (var block in blocks)
        {
            x = block.Forward(x);
        }

        return F.layer_norm(x, [Config.ModelDim], final_norm_scale, final_norm_bias, TinyTransformer.NormEpsilon).matmul(lm_head);
    }

    /// <summary>Multiplies the LM head by <paramref name="factor"/>: logits scaled, a drafter-only temperature of 1/factor.</summary>
    public void ScaleOutput(double factor)
    {
        using var noGrad = torch.no_grad();
        lm_head.mul_(factor);
    }

    /// <summary>The weights as a <see cref="TinyTransformer"/> (plain arrays), ready for <see cref="TinyTransformerBuilder.Build"/>.</summary>
    public TinyTransformer ToTinyTransformer() => TinyTransformer.FromWeights(
        Config,
        TorchTransformerBlock.Values(token_embedding),
        TorchTransformerBlock.Values(position_embedding),
        [.. blocks.Select(b => b.ToLayer())],
        TorchTransformerBlock.Values(final_norm_scale),
        TorchTransformerBlock.Values(final_norm_bias),
        TorchTransformerBlock.Values(lm_head));
}
