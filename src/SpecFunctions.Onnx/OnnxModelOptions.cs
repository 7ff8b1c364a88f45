using System.ComponentModel.DataAnnotations;
using Microsoft.ML.OnnxRuntime;

namespace SpecFunctions.Onnx;

/// <summary>Where a model runs.</summary>
public enum OnnxDevice
{
    /// <summary>The CPU execution provider (always available).</summary>
    Cpu,

    /// <summary>The CUDA execution provider (needs the GPU native package, CUDA 13 and cuDNN 9).</summary>
    Cuda,
}

/// <summary>
/// How an <see cref="OnnxLanguageModel"/> creates its ONNX Runtime session. A host binds it from section
/// <see cref="SectionName"/> and validates it on start (<see cref="IValidatableObject"/>, the rules of <see cref="Validate()"/>).
/// </summary>
public sealed record OnnxModelOptions : IValidatableObject
{
    public const string SectionName = "Onnx";

    /// <summary>
    /// Requested device. Default <see cref="OnnxDevice.Cpu"/>. Settable, unlike the other options, because the Functions
    /// host lets <c>SPECFN_DEVICE</c> override the bound value after binding.
    /// </summary>
    public OnnxDevice Device { get; set; } = OnnxDevice.Cpu;

    /// <summary>
    /// When true, a <see cref="Device"/> that cannot be loaded is an error (<see cref="ExecutionProviderUnavailableException"/>);
    /// when false (default) the model falls back to the CPU with one warning.
    /// </summary>
    public bool RequireDevice { get; init; }

    /// <summary>CUDA device ordinal. Default 0.</summary>
    public int DeviceId { get; init; }

    /// <summary>
    /// Threads ONNX Runtime uses inside one operator; 0 (default) means <see cref="DefaultIntraOpThreads"/>: half the
    /// logical processors, 1 to 16, the default of ONNX Runtime GenAI. ONNX Runtime's own default (one per core it
    /// sees) made decoding 18 % slower on the 2-vCPU machines here (docs/benchmarks.md, issue 15): a decode call is a
    /// few small matrix products, and a second thread costs more in hand-offs than it computes.
    /// </summary>
    public int IntraOpThreads { get; init; }

    /// <summary>What <see cref="IntraOpThreads"/> = 0 resolves to on this machine.</summary>
    public static int DefaultIntraOpThreads => Math.Clamp(Environment.ProcessorCount / 2, 1, 16);

    /// <summary>The intra-op thread count the sessions get.</summary>
    public int EffectiveIntraOpThreads => IntraOpThreads > 0 ? IntraOpThreads : DefaultIntraOpThreads;

    /// <summary>
    /// Decoder-with-past models: run each call through an ONNX Runtime IO binding that leaves the <c>present.*</c> outputs in
    /// the memory of the session's device and feeds them back as the next <c>past_key_values</c>, so only the requested
    /// logits are copied to the host (on CUDA the whole KV cache otherwise travels device → host → device on every call).
    /// Rewinds compact the cache on the same device. On the CPU provider, where the cache is host memory anyway, a call
    /// allocates its outputs there beforehand instead of binding (cheaper per call). Default true; false selects the plain
    /// <c>Run</c> path (outputs allocated and returned by ONNX Runtime), kept for comparison.
    /// </summary>
    public bool IoBinding { get; init; } = true;

    /// <summary>
    /// Run a host-resident cache (the CPU provider) through the GPU's code path, IO binding and compaction by a
    /// <c>Gather</c> session, instead of the host path (outputs allocated beforehand, compaction by a host copy), which
    /// costs less there (docs/benchmarks.md, issue 15). For the tests of the GPU path on machines without a GPU. Default false.
    /// </summary>
    internal bool DeviceCodePathOnHost { get; init; }

    /// <summary>
    /// A <c>tokenizer.json</c> every model loaded with these options uses instead of its folder's own (null, the default:
    /// the folder's). For exports whose tokenizer does not match their graph, e.g. a test export with a 50,257-token
    /// GPT-2 tokenizer over a 1,000-logit graph, paired with a drafter whose tokenizer does match. Part of the model's identity.
    /// </summary>
    public string? TokenizerFile { get; init; }

    /// <summary>Graph optimisation level. Default <see cref="GraphOptimizationLevel.ORT_ENABLE_ALL"/>.</summary>
    public GraphOptimizationLevel GraphOptimizationLevel { get; init; } = GraphOptimizationLevel.ORT_ENABLE_ALL;

    public static OnnxModelOptions Default { get; } = new();

    /// <summary>Throws <see cref="ArgumentOutOfRangeException"/> naming the first invalid option.</summary>
    public void Validate()
    {
        if (Problems().FirstOrDefault() is ({ } option, var value, var rule))
        {
            throw new ArgumentOutOfRangeException(option, value, rule);
        }
    }

    /// <summary>Every invalid option, as a configuration error: <c>Onnx:DeviceId is -1: device id must be &gt;= 0</c>.</summary>
    IEnumerable<ValidationResult> IValidatableObject.Validate(ValidationContext validationContext) =>
        Problems().Select(p => new ValidationResult($"{SectionName}:{p.Option} is {p.Value}: {p.Rule}", [p.Option]));

    private IEnumerable<(string Option, object Value, string Rule)> Problems()
    {
        if (!Enum.IsDefined(Device))
        {
            yield return (nameof(Device), Device, "device must be cpu or cuda");
        }

        if (DeviceId < 0)
        {
            yield return (nameof(DeviceId), DeviceId, "device id must be >= 0");
        }

        if (IntraOpThreads < 0)
        {
            yield return (nameof(IntraOpThreads), IntraOpThreads, "intra-op threads must be >= 0 (0 = half the logical processors)");
        }
    }
}
