using SpecFunctions.Core.Mitigation;
using SpecFunctions.Core.Storage;

namespace SpecFunctions.Core.Evaluation;

/// <summary>
/// Strict parser of evaluation submissions (HTTP bodies) and suite files (CLI). Walks the JSON by hand so that every
/// error names its field as a JSON path (<c>suite.tasks[2].id</c>), all problems are reported at once, unknown and
/// duplicate fields are rejected (they could silently change meaning), and no value is coerced (a string is never
/// read as a number, <c>null</c> never stands for a default: omit the field instead).
/// </summary>
/// <remarks>
/// The entry point of <c>Evaluation/Parsing/</c>: <see cref="StrictJsonDocument"/> admits the bytes,
/// <see cref="StrictJsonWalker"/> type-checks into an <see cref="ErrorList"/>, <see cref="SubmissionParser"/> and
/// <see cref="SuiteParser"/> (with <see cref="PromptsFile"/>) read the schema.
/// </remarks>
public sealed class EvaluationRequestParser
{
    /// <summary>Longest accepted suite name, characters.</summary>
    public const int MaxSuiteNameChars = 200;

    /// <summary>Reports stop collecting errors after this many, so a hostile body cannot produce a huge answer.</summary>
    public const int MaxErrors = 50;

    /// <summary>Mitigation strategies a submission may name.</summary>
    public static IReadOnlyList<string> Strategies => MitigationStrategies.All;

    private readonly EvaluationLimits _limits;
    private readonly SuiteParser _suites;
    private readonly SubmissionParser _submissions;

    /// <param name="limits">Size limits of one submission.</param>
    /// <param name="isKnownModel">Whether the model catalog resolves a model reference.</param>
    /// <param name="newRunId">Makes a run id when the submission has none; its result must match <see cref="StoreIds.Pattern"/>.</param>
    /// <param name="mitigationDefaults">
    /// The policy of a submission without <c>mitigation</c>, and the value of every field its <c>mitigation</c> omits
    /// (a deployment's thresholds); default <see cref="MitigationPolicy"/>'s.
    /// </param>
    public EvaluationRequestParser(EvaluationLimits limits, Func<string, bool> isKnownModel, Func<string> newRunId, MitigationPolicy? mitigationDefaults = null)
    {
        _limits = limits ?? throw new ArgumentNullException(nameof(limits));
        ArgumentNullException.ThrowIfNull(isKnownModel);
        ArgumentNullException.ThrowIfNull(newRunId);
        _suites = new SuiteParser(limits);
        _submissions = new SubmissionParser(limits, _suites, isKnownModel, newRunId, mitigationDefaults ?? new MitigationPolicy());
    }

    public EvaluationLimits Limits => _limits;

    /// <summary>A fresh run id: <c>run-</c> and 32 hex digits of a random GUID.</summary>
    public static string NewRunId() => "run-" + Guid.NewGuid().ToString("N");

    /// <summary>Parses and validates an evaluation submission (<see cref="EvaluationRequest"/> as JSON, <c>runId</c> optional).</summary>
    public ParseResult<EvaluationRequest> Parse(ReadOnlyMemory<byte> body)
    {
        var errors = new ErrorList();
        using var document = StrictJsonDocument.Parse(body, _limits.MaxBodyBytes, errors, "the body");
        if (document is null)
        {
            return ParseResult<EvaluationRequest>.Failure(errors.Items);
        }

        var request = _submissions.Parse(new StrictJsonWalker(errors), document.RootElement);
        return errors.Count > 0 || request is null ? ParseResult<EvaluationRequest>.Failure(errors.Items) : ParseResult<EvaluationRequest>.Success(request);
    }

    /// <summary>
    /// Parses and validates a suite file: <c>{ "name": …, "tasks": [ { "id": …, "prompts": [ … ] } ] }</c>. With
    /// <paramref name="promptsFiles"/>, a task may give <c>"promptsFile"</c> (a plain file name; one prompt per non-blank
    /// line, strict UTF-8, at most <see cref="EvaluationLimits.MaxBodyBytes"/>) instead of <c>"prompts"</c>; its problems
    /// are reported under <c>tasks[i].promptsFile</c> like any other field's. Field paths are relative to the suite root.
    /// </summary>
    public ParseResult<SuiteDefinition> ParseSuite(ReadOnlyMemory<byte> body, IPromptsFileSource? promptsFiles = null)
    {
        var errors = new ErrorList();
        using var document = StrictJsonDocument.Parse(body, _limits.MaxBodyBytes, errors, "the suite file");
        if (document is null)
        {
            return ParseResult<SuiteDefinition>.Failure(errors.Items);
        }

        var suite = _suites.Parse(new StrictJsonWalker(errors), document.RootElement, "", promptsFiles);
        return errors.Count > 0 || suite is null ? ParseResult<SuiteDefinition>.Failure(errors.Items) : ParseResult<SuiteDefinition>.Success(suite);
    }
}
