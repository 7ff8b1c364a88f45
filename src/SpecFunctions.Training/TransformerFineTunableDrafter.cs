using SpecFunctions.Core.Mitigation.Training;
using SpecFunctions.Onnx.Tokenizers;
using static TorchSharp.torch;
using F = TorchSharp.torch.nn.functional;

namespace SpecFunctions.Training;

/// <summary>
/// The transformer family's part of <see cref="DrafterMitigation"/> with TorchSharp: the verifier's continuations of the
/// training prompts as soft labels, AdamW steps (gradient norm clipped at 1) on the drafter, 1/τ baked into the LM head,
/// and a fine-tuned <c>specfn-transformer</c> folder. The verifier is only read; the drafter is changed in place.
/// </summary>
public sealed class TransformerFineTunableDrafter : IFineTunableDrafter
{
    /// <summary>Salt of the transformer family's task and batch sampling stream.</summary>
    private const ulong Stream = 0x5CDF0000UL;

    private readonly TorchTransformer _verifier;
    private readonly TorchTransformer _drafter;
    private readonly ITokenizer _tokenizer;
    private readonly int _bos;
    private readonly string _drafterFolder;
    private readonly List<Batch> _correctiveData = [];
    private Batch[] _heldOut = [];
    private optim.Optimizer? _optimizer;

    private TransformerFineTunableDrafter(TorchTransformer verifier, TorchTransformer drafter, ITokenizer tokenizer, int bos, string drafterFolder)
    {
        _verifier = verifier;
        _drafter = drafter;
        _tokenizer = tokenizer;
        _bos = bos;
        _drafterFolder = drafterFolder;
    }

    /// <inheritdoc/>
    public ulong SamplingStream => Stream;

    /// <inheritdoc/>
    public string BatchUnit => "sequences";

    private int MaxPositions => Math.Min(_verifier.Config.MaxPositions, _drafter.Config.MaxPositions);

    /// <summary>Loads the verifier and the base drafter of two folders written by <see cref="TransformerModels"/>.</summary>
    public static TransformerFineTunableDrafter Open(string verifierFolder, string drafterFolder)
    {
        var tokenizer = HuggingFaceTokenizer.Load(Path.Combine(drafterFolder, "tokenizer.json"));
        var bos = Onnx.OnnxLanguageModel.ReadManifest(drafterFolder).BosTokenId
            ?? throw new InvalidDataException($"'{drafterFolder}' has no bosTokenId in its manifest.");
        var verifier = TransformerModels.LoadModel(verifierFolder);
        try
        {
            return new TransformerFineTunableDrafter(verifier, TransformerModels.LoadModel(drafterFolder), tokenizer, bos, drafterFolder);
        }
        catch
        {
            verifier.Dispose();
            throw;
        }
    }

    /// <inheritdoc/>
    public void SetHeldOut(IReadOnlyList<IReadOnlyList<string>> prompts, double temperature)
    {
        ArgumentNullException.ThrowIfNull(prompts);
        _heldOut = [.. prompts.Select(p => Batch.Create(_verifier, [.. p.Select(text => Encode(text, MaxPositions))], temperature))];
    }

    /// <inheritdoc/>
    public IReadOnlyList<(double Alpha, double CrossEntropy)> MeasureHeldOut(double temperature, bool alpha)
    {
        // Measured in eval mode; a fine-tuning in progress goes back to train mode after.
        var training = _drafter.training;
        _drafter.eval();
        var measured = _heldOut.Select(h => h.Measure(_drafter, temperature)).ToArray();
        if (training)
        {
            _drafter.train();
        }

        return measured;
    }

    /// <inheritdoc/>
    public int AddCorrectiveData(string id, IReadOnlyList<string> prompts, MitigationOptions options, int seed)
    {
        ArgumentNullException.ThrowIfNull(options);
        var sequences = Continue([.. prompts.Select(p => Encode(p, MaxPositions - options.Continuation))], options.Continuation, seed + (997L * _correctiveData.Count), options.Temperature);
        var batch = Batch.Create(_verifier, sequences, options.Temperature);
        _correctiveData.Add(batch);
        return batch.Positions;
    }

    /// <inheritdoc/>
    public int BatchRows(int task) => _correctiveData[task].Rows;

    /// <inheritdoc/>
    public void Step(int task, ReadOnlySpan<int> batch, MitigationOptions options)
    {
        ArgumentNullException.ThrowIfNull(options);
        if (_optimizer is null)
        {
            _drafter.train();
            _optimizer = optim.AdamW(_drafter.parameters(), options.LearningRate, weight_decay: 0.0);
        }

        using var scope = NewDisposeScope();
        _optimizer.zero_grad();
        var loss = _correctiveData[task].Loss(_drafter, batch.ToArray());
        loss.backward();
        nn.utils.clip_grad_norm_(_drafter.parameters(), 1.0);
        _optimizer.step();
    }

    /// <inheritdoc/>
    public void ApplyTemperature(double temperature) => _drafter.ScaleOutput(1.0 / temperature);

    /// <summary>Writes a new model.onnx and weights beside the base drafter's manifest, tokenizer files and genai_config.json.</summary>
    public void Save(string folder)
    {
        _drafter.eval();
        TransformerModels.WriteFineTunedFolder(_drafter, _drafterFolder, folder);
    }

    /// <summary>Releases both networks, the cached distributions and the optimiser.</summary>
    public void Dispose()
    {
        _optimizer?.Dispose();
        foreach (var batch in _heldOut.Concat(_correctiveData))
        {
            batch.Dispose();
        }

        _drafter.Dispose();
        _verifier.Dispose();
    }

    private long[] Encode(string text, int maxTokens)
    {
        var ids = _tokenizer.Encode(text).Prepend(_bos).Select(t => (long)t).ToArray();
        return ids.Length <= maxTokens ? ids : ids[..maxTokens];
    }

    /// <summary>The verifier's continuations (at the run's temperature) of every prompt, all prompts in one right-padded batch.</summary>
    private long[][] Continue(long[][] prompts, int tokens, long seed, double temperature)
    {
        var lengths = prompts.Select(p => p.Length).ToArray();
        var width = lengths.Max() + tokens;
        var ids = new long[prompts.Length * width];
        for (var r = 0; r < prompts.Length; r++)
        {
            prompts[r].CopyTo(ids, r * width);
        }

        using var generator = new Generator((ulong)seed);
        using var noGrad = no_grad();
        for (var step = 0; step < tokens; step++)
        {
            using var scope = NewDisposeScope();
            var used = lengths.Max();
            var batch = tensor(ids, [prompts.Length, width]).narrow(1, 0, used);
            var logits = _verifier.forward(batch);
            var last = logits.gather(1, tensor(lengths.Select(l => (long)(l - 1)).ToArray(), [prompts.Length, 1, 1]).expand(-1, 1, logits.shape[2])).squeeze(1);
            var next = multinomial(F.softmax(temperature == 1 ? last : last / temperature, -1), 1, generator: generator).flatten().data<long>().ToArray();
            for (var r = 0; r < prompts.Length; r++)
            {
                ids[(r * width) + lengths[r]] = next[r];
                lengths[r]++;
            }
        }

        return [.. prompts.Select((_, r) => ids.AsSpan(r * width, lengths[r]).ToArray())];
    }

    /// <summary>
    /// Right-padded token sequences of one task with the verifier's next-token distributions at every position (computed
    /// once: the verifier never changes) and a mask of the real positions.
    /// </summary>
    private sealed class Batch : IDisposable
    {
        private readonly Tensor _ids;
        private readonly Tensor _p;
        private readonly Tensor _mask;

        private Batch(Tensor ids, Tensor p, Tensor mask, int positions)
        {
            _ids = ids;
            _p = p;
            _mask = mask;
            Positions = positions;
        }

        public int Rows => (int)_ids.shape[0];

        /// <summary>Number of prefixes (real positions).</summary>
        public int Positions { get; }

        public static Batch Create(TorchTransformer verifier, long[][] sequences, double temperature)
        {
            var width = sequences.Max(s => s.Length);
            var ids = new long[sequences.Length * width];
            var mask = new float[sequences.Length * width];
            for (var r = 0; r < sequences.Length; r++)
            {
                sequences[r].CopyTo(ids, r * width);
                mask.AsSpan(r * width, sequences[r].Length).Fill(1f);
            }

            var idTensor = tensor(ids, [sequences.Length, width]).DetachFromDisposeScope();
            using var noGrad = no_grad();
            var logits = verifier.forward(idTensor);
            var p = F.softmax(temperature == 1 ? logits : logits / temperature, -1).detach().DetachFromDisposeScope();
            return new Batch(idTensor, p, tensor(mask, [sequences.Length, width]).DetachFromDisposeScope(), sequences.Sum(s => s.Length));
        }

        /// <summary>Mean −Σ p log q over the real positions of <paramref name="rows"/> (with gradients).</summary>
        public Tensor Loss(TorchTransformer drafter, int[] rows)
        {
            var index = tensor(rows.Select(r => (long)r).ToArray());
            var mask = _mask.index_select(0, index);
            var perPosition = -(_p.index_select(0, index) * F.log_softmax(drafter.forward(_ids.index_select(0, index)), -1)).sum(-1);
            return (perPosition * mask).sum() / mask.sum();
        }

        /// <summary>Mean α(s) = Σ min(p, q) and mean −Σ p log q over every real position, drafter logits divided by τ.</summary>
        public (double Alpha, double CrossEntropy) Measure(TorchTransformer drafter, double tau)
        {
            using var scope = NewDisposeScope();
            using var noGrad = no_grad();
            var logQ = F.log_softmax(drafter.forward(_ids) / tau, -1);
            var alpha = (minimum(_p, logQ.exp()).sum(-1) * _mask).sum() / _mask.sum();
            var crossEntropy = (-(_p * logQ).sum(-1) * _mask).sum() / _mask.sum();
            return (alpha.item<float>(), crossEntropy.item<float>());
        }

        public void Dispose()
        {
            _ids.Dispose();
            _p.Dispose();
            _mask.Dispose();
        }
    }
}
