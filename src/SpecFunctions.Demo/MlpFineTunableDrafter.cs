using System.Text;
using SpecFunctions.Core.Mitigation.Training;
using SpecFunctions.Core.Models;
using SpecFunctions.Core.Sampling;

namespace SpecFunctions.Demo;

/// <summary>
/// The MLP demo family's part of <see cref="DrafterMitigation"/>: byte-level soft labels from the verifier, Adam steps on
/// the MLP drafter (<see cref="MlpOptimizer"/>), 1/τ baked into the output layer, and a <c>specfn-demo</c> model folder.
/// The verifier and the drafter it was built from are never changed.
/// </summary>
public sealed class MlpFineTunableDrafter : IFineTunableDrafter
{
    private readonly DemoModelWeights _verifier;
    private readonly byte[]? _manifest;
    private readonly List<SoftLabelTask> _correctiveData = [];
    private SoftLabelTask[] _heldOut = [];
    private SoftLabelStepper? _stepper;

    /// <summary>Fine-tunes a copy of <paramref name="drafter"/> against <paramref name="verifier"/> (neither is changed).</summary>
    /// <param name="verifier">The verifier's weights (read only).</param>
    /// <param name="drafter">The base drafter's weights (copied).</param>
    /// <param name="manifest">The base drafter's <c>specfn-model.json</c>, written byte for byte by <see cref="Save"/>; null writes a fresh demo manifest.</param>
    public MlpFineTunableDrafter(DemoModelWeights verifier, DemoModelWeights drafter, byte[]? manifest = null)
    {
        ArgumentNullException.ThrowIfNull(verifier);
        ArgumentNullException.ThrowIfNull(drafter);
        _verifier = verifier;
        Weights = drafter.Clone();
        _manifest = manifest;
    }

    /// <summary>The drafter as it stands (the new drafter once a mitigation ran).</summary>
    public DemoModelWeights Weights { get; private set; }

    /// <summary>The soft-label data the drafter was fine-tuned on, per task (empty for strategies that do not train).</summary>
    public IReadOnlyList<SoftLabelTask> CorrectiveData => _correctiveData;

    /// <inheritdoc/>
    public ulong SamplingStream => DrafterTrainer.SamplingStream;

    /// <inheritdoc/>
    public string BatchUnit => "prefixes";

    /// <summary>Loads the verifier and the base drafter (weights.bin and manifest) of two demo model folders.</summary>
    public static MlpFineTunableDrafter Open(string verifierFolder, string drafterFolder)
    {
        var verifier = DemoModels.LoadWeights(verifierFolder);
        var drafter = DemoModels.LoadWeights(drafterFolder);
        return new MlpFineTunableDrafter(verifier, drafter, File.ReadAllBytes(Path.Combine(drafterFolder, ModelManifest.FileName)));
    }

    /// <inheritdoc/>
    public void SetHeldOut(IReadOnlyList<IReadOnlyList<string>> prompts, double temperature) =>
        _heldOut = [.. prompts.Select((p, i) => SoftLabelTask.FromVerifier($"held-out {i}", new DemoModel(_verifier), p, temperature))];

    /// <inheritdoc/>
    public IReadOnlyList<(double Alpha, double CrossEntropy)> MeasureHeldOut(double temperature, bool alpha)
    {
        var drafter = temperature == 1.0 ? Weights : WithOutputTemperature(Weights, temperature);
        return [.. _heldOut.Select(h => DrafterTrainer.Agreement(drafter, h, alpha))];
    }

    /// <inheritdoc/>
    public int AddCorrectiveData(string id, IReadOnlyList<string> prompts, MitigationOptions options, int seed)
    {
        ArgumentNullException.ThrowIfNull(options);
        var data = CreateCorrectiveData(id, _verifier, prompts, options.Continuation, seed, options.Temperature);
        _correctiveData.Add(data);
        return data.Examples.Count;
    }

    /// <inheritdoc/>
    public int BatchRows(int task) => _correctiveData[task].Examples.Count;

    /// <inheritdoc/>
    public void Step(int task, ReadOnlySpan<int> batch, MitigationOptions options)
    {
        ArgumentNullException.ThrowIfNull(options);
        _stepper ??= new SoftLabelStepper(Weights, options.BatchSize, options.Shards);
        _stepper.Step(_correctiveData[task], batch, (float)options.LearningRate);
    }

    /// <inheritdoc/>
    public void ApplyTemperature(double temperature) => Weights = WithOutputTemperature(Weights, temperature);

    /// <summary>Writes model.onnx, weights.bin and the base drafter's own specfn-model.json (same name and family, only the weights differ).</summary>
    public void Save(string folder)
    {
        DemoModels.WriteModelFolder(Weights, folder);
        if (_manifest is not null)
        {
            File.WriteAllBytes(Path.Combine(folder, ModelManifest.FileName), _manifest);
        }
    }

    /// <summary>Nothing to release: the weights are managed arrays.</summary>
    public void Dispose()
    {
    }

    /// <summary>
    /// A copy of <paramref name="weights"/> whose logits are divided by <paramref name="tau"/> (1/τ baked into the output
    /// layer's weights and bias): a drafter-only temperature that keeps an ordinary model folder.
    /// </summary>
    public static DemoModelWeights WithOutputTemperature(DemoModelWeights weights, double tau)
    {
        ArgumentNullException.ThrowIfNull(weights);
        var copy = weights.Clone();
        var last = copy.Layers[^1];
        var scale = (float)(1.0 / tau);
        System.Numerics.Tensors.TensorPrimitives.Multiply(last.W, scale, last.W);
        System.Numerics.Tensors.TensorPrimitives.Multiply(last.B, scale, last.B);
        return copy;
    }

    /// <summary>
    /// The corrective data of one task: for each prompt the verifier samples up to <paramref name="continuationBytes"/>
    /// bytes (at <paramref name="temperature"/>, the run's, stopping after a line feed); every prefix of prompt +
    /// continuation becomes an example whose soft label is the verifier's next-byte distribution there, at that temperature.
    /// </summary>
    public static SoftLabelTask CreateCorrectiveData(string id, DemoModelWeights verifier, IEnumerable<string> prompts, int continuationBytes, int seed, double temperature = 1.0)
    {
        ArgumentNullException.ThrowIfNull(verifier);
        ArgumentNullException.ThrowIfNull(prompts);
        const int v = DemoModelConfig.VocabularySize;
        var model = new DemoModel(verifier);
        var random = new DeterministicRandom(0xC0DE0000UL ^ (ulong)(uint)seed ^ ((ulong)(uint)DeterministicHashCode(id) << 32));
        var examples = new List<SoftLabelExample>();
        var logP = new double[v];
        var logits = new float[v];
        foreach (var prompt in prompts)
        {
            var text = new List<byte>(Encoding.UTF8.GetBytes(prompt));
            if (text.Count == 0)
            {
                continue;
            }

            var all = model.ForwardAll(text.ToArray());
            for (var t = 0; t < text.Count - 1; t++)
            {
                examples.Add(new SoftLabelExample(text.GetRange(0, t + 1).ToArray(), SoftLabelTask.Distribution(all.AsSpan(t * v, v), logP, temperature)));
            }

            all.AsSpan((text.Count - 1) * v, v).CopyTo(logits);
            for (var i = 0; i < continuationBytes; i++)
            {
                var target = SoftLabelTask.Distribution(logits, logP, temperature);
                examples.Add(new SoftLabelExample(text.ToArray(), target));
                var next = Sample(target, random);
                text.Add((byte)next);
                if (next == DemoModels.EndOfSequenceByte)
                {
                    break;
                }

                model.Forward(System.Runtime.InteropServices.CollectionsMarshal.AsSpan(text), logits);
            }
        }

        return new SoftLabelTask(id, examples);
    }

    private static int Sample(float[] p, DeterministicRandom random)
    {
        var u = random.NextDouble();
        double total = 0;
        for (var x = 0; x < p.Length; x++)
        {
            total += p[x];
            if (u < total)
            {
                return x;
            }
        }

        return Array.FindLastIndex(p, q => q > 0);
    }

    private static int DeterministicHashCode(string text)
    {
        // string.GetHashCode is randomised per process; FNV-1a is not.
        var hash = 2166136261u;
        foreach (var c in text)
        {
            hash = (hash ^ c) * 16777619u;
        }

        return (int)hash;
    }
}
