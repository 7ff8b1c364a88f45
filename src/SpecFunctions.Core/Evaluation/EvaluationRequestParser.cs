using System.Globalization;
using System.Text.Json;
using System.Text.Unicode;
using SpecFunctions.Core.Storage;
using SpecFunctions.Core.Mitigation;

namespace SpecFunctions.Core.Evaluation;

/// <summary>One problem with a submission: the JSON path of the field (<c>$</c> for the body itself) and what is wrong.</summary>
public sealed record ValidationError(string Field, string Problem)
{
    public override string ToString() => $"{Field}: {Problem}";
}

/// <summary>A parsed value, or the reasons there is none.</summary>
public sealed class ParseResult<T>
    where T : class
{
    private ParseResult(T? value, IReadOnlyList<ValidationError> errors)
    {
        Value = value;
        Errors = errors;
    }

    /// <summary>The value; null exactly when <see cref="Errors"/> is not empty.</summary>
    public T? Value { get; }

    public IReadOnlyList<ValidationError> Errors { get; }

    public bool IsValid => Value is not null;

    public static ParseResult<T> Success(T value) => new(value ?? throw new ArgumentNullException(nameof(value)), []);

    public static ParseResult<T> Failure(IReadOnlyList<ValidationError> errors) =>
        errors is { Count: > 0 } ? new(null, errors) : throw new ArgumentException("a failure needs at least one error", nameof(errors));
}

/// <summary>
/// Strict parser of evaluation submissions (HTTP bodies) and suite files (CLI). Walks the JSON by hand so that every
/// error names its field as a JSON path (<c>suite.tasks[2].id</c>), all problems are reported at once, unknown and
/// duplicate fields are rejected (they could silently change meaning), and no value is coerced (a string is never
/// read as a number, <c>null</c> never stands for a default: omit the field instead).
/// </summary>
public sealed class EvaluationRequestParser
{
    /// <summary>Longest accepted suite name, characters.</summary>
    public const int MaxSuiteNameChars = 200;

    /// <summary>Reports stop collecting errors after this many, so a hostile body cannot produce a huge answer.</summary>
    public const int MaxErrors = 50;

    private static readonly JsonDocumentOptions DocumentOptions = new()
    {
        // Our schema is four levels deep; anything much deeper is not a submission.
        MaxDepth = 16,
        CommentHandling = JsonCommentHandling.Disallow,
        AllowTrailingCommas = false,
    };

    private static ReadOnlySpan<byte> Utf8Bom => [0xEF, 0xBB, 0xBF];

    private static readonly string[] RequestFields = ["runId", "suite", "verifier", "drafter", "settings", "mitigation"];
    private static readonly string[] SuiteFields = ["name", "tasks", "source"];
    private static readonly string[] SourceFields = ["blob"];
    private static readonly string[] TaskFields = ["id", "prompts", "trainingPrompts", "gamma"];
    private static readonly string[] FileTaskFields = ["id", "prompts", "promptsFile", "trainingPrompts", "gamma"];
    private static readonly string[] SettingsFields = ["gamma", "temperature", "topK", "topP", "maxNewTokens", "seed", "ignoreEos", "repeats", "promptsPerShard"];
    private static readonly string[] MitigationFields = ["unfairnessThreshold", "speedupGapThreshold", "autoMitigate", "strategy", "speedupMargin", "meanSpeedupTolerance"];

    /// <summary>Mitigation strategies a submission may name.</summary>
    public static IReadOnlyList<string> Strategies => MitigationStrategies.All;

    private readonly EvaluationLimits _limits;
    private readonly Func<string, bool> _isKnownModel;
    private readonly Func<string> _newRunId;
    private readonly MitigationPolicy _mitigationDefaults;

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
        _isKnownModel = isKnownModel ?? throw new ArgumentNullException(nameof(isKnownModel));
        _newRunId = newRunId ?? throw new ArgumentNullException(nameof(newRunId));
        _mitigationDefaults = mitigationDefaults ?? new MitigationPolicy();
    }

    public EvaluationLimits Limits => _limits;

    /// <summary>A fresh run id: <c>run-</c> and 32 hex digits of a random GUID.</summary>
    public static string NewRunId() => "run-" + Guid.NewGuid().ToString("N");

    /// <summary>Parses and validates an evaluation submission (<see cref="EvaluationRequest"/> as JSON, <c>runId</c> optional).</summary>
    public ParseResult<EvaluationRequest> Parse(ReadOnlyMemory<byte> body)
    {
        var errors = new ErrorList();
        using var document = ParseDocument(body, errors, "the body");
        if (document is null)
        {
            return ParseResult<EvaluationRequest>.Failure(errors.Items);
        }

        var w = new Walker(errors, _limits);
        var root = w.Object(document.RootElement, "", RequestFields);
        if (root is null)
        {
            return ParseResult<EvaluationRequest>.Failure(errors.Items);
        }

        string? runId = null;
        if (root.TryGetValue("runId", out var runIdElement))
        {
            runId = w.String(runIdElement, "runId");
            if (runId is not null && !StoreIds.IsValid(runId))
            {
                w.Error("runId", $"{Walker.Quote(runId)} is not a valid id: {IdRule}");
            }
        }

        var suite = w.Required(root, "", "suite", (e, p) => ParseSuite(w, e, p, promptsFiles: null));
        var verifier = w.Required(root, "", "verifier", (e, p) => Model(w, e, p));
        var drafter = w.Required(root, "", "drafter", (e, p) => Model(w, e, p));
        var settings = root.TryGetValue("settings", out var s) ? ParseSettings(w, s, "settings") : new EvaluationSettings();
        var mitigation = root.TryGetValue("mitigation", out var m) ? ParseMitigation(w, m, "mitigation", _mitigationDefaults) : _mitigationDefaults;

        if (errors.Count > 0 || suite is null || verifier is null || drafter is null || settings is null || mitigation is null)
        {
            return ParseResult<EvaluationRequest>.Failure(errors.Items);
        }

        return ParseResult<EvaluationRequest>.Success(new EvaluationRequest
        {
            RunId = runId ?? _newRunId(),
            Suite = suite,
            Verifier = verifier,
            Drafter = drafter,
            Settings = settings,
            Mitigation = mitigation,
        });
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
        using var document = ParseDocument(body, errors, "the suite file");
        if (document is null)
        {
            return ParseResult<SuiteDefinition>.Failure(errors.Items);
        }

        var suite = ParseSuite(new Walker(errors, _limits), document.RootElement, "", promptsFiles);
        return errors.Count > 0 || suite is null ? ParseResult<SuiteDefinition>.Failure(errors.Items) : ParseResult<SuiteDefinition>.Success(suite);
    }

    private const string IdRule = "ids are 1-64 lower-case letters, digits, '-' or '_', starting with a letter or digit";

    /// <param name="what">What the bytes are, for messages: "the body", "the suite file".</param>
    private JsonDocument? ParseDocument(ReadOnlyMemory<byte> body, ErrorList errors, string what)
    {
        if (body.Length > _limits.MaxBodyBytes)
        {
            errors.Add("$", $"{what} is {body.Length} bytes; the limit is {_limits.MaxBodyBytes} bytes");
            return null;
        }

        var span = body.Span;
        if (span.StartsWith(Utf8Bom))
        {
            body = body[Utf8Bom.Length..];
            span = body.Span;
        }

        if (span.IsEmpty || span.Trim((ReadOnlySpan<byte>)[(byte)' ', (byte)'\t', (byte)'\r', (byte)'\n']).IsEmpty)
        {
            errors.Add("$", $"{what} is empty; expected a JSON object");
            return null;
        }

        // The JSON reader would accept some invalid sequences inside strings until they are read; reject them up front.
        var chars = new char[span.Length];
        if (Utf8.ToUtf16(span, chars, out var read, out _, replaceInvalidSequences: false) != System.Buffers.OperationStatus.Done)
        {
            errors.Add("$", $"{what} is not valid UTF-8 at {Position(span, read)}");
            return null;
        }

        try
        {
            return JsonDocument.Parse(body, DocumentOptions);
        }
        catch (JsonException ex)
        {
            errors.Add("$", DescribeJsonError(span, ex, what));
            return null;
        }
    }

    // System.Text.Json's own messages ("'0xEF' is an invalid start of a value. LineNumber: 0 | ...") are not ours to
    // show; say what is wrong and where, and tell too deep a nesting apart from a syntax error.
    private static string DescribeJsonError(ReadOnlySpan<byte> json, JsonException ex, string what)
    {
        var reader = new Utf8JsonReader(json, new JsonReaderOptions { MaxDepth = 1 << 20, CommentHandling = JsonCommentHandling.Disallow });
        try
        {
            while (reader.Read())
            {
                if (reader.TokenType is JsonTokenType.StartObject or JsonTokenType.StartArray && reader.CurrentDepth >= DocumentOptions.MaxDepth)
                {
                    return $"{what} nests objects and arrays more than {DocumentOptions.MaxDepth} levels deep at {Position(json, (int)reader.TokenStartIndex)}";
                }
            }
        }
        catch (JsonException)
        {
            // The syntax error below.
        }

        return ex.LineNumber is { } line
            ? string.Create(CultureInfo.InvariantCulture, $"{what} is not valid JSON at line {line + 1}, byte {ex.BytePositionInLine + 1}")
            : $"{what} is not valid JSON";
    }

    /// <summary>"line L, byte B" (both from 1) of byte <paramref name="offset"/>.</summary>
    private static string Position(ReadOnlySpan<byte> text, int offset)
    {
        var before = text[..offset];
        var lineStart = before.LastIndexOf((byte)'\n') + 1;
        return string.Create(CultureInfo.InvariantCulture, $"line {before.Count((byte)'\n') + 1}, byte {offset - lineStart + 1}");
    }

    private SuiteDefinition? ParseSuite(Walker w, JsonElement element, string path, IPromptsFileSource? promptsFiles)
    {
        var obj = w.Object(element, path, SuiteFields);
        if (obj is null)
        {
            return null;
        }

        var name = w.Required(obj, path, "name", (e, p) =>
        {
            var value = w.String(e, p);
            if (value is null)
            {
                return null;
            }

            if (string.IsNullOrWhiteSpace(value))
            {
                w.Error(p, "must not be empty");
                return null;
            }

            if (value.Length > MaxSuiteNameChars)
            {
                w.Error(p, $"is {value.Length} characters long; the limit is {MaxSuiteNameChars}");
                return null;
            }

            return value;
        });

        // A suite by reference names its blob instead of listing tasks; PrepareRun reads and validates the blob.
        if (obj.TryGetValue("source", out var sourceElement))
        {
            if (obj.ContainsKey("tasks"))
            {
                w.Error(path, "has both tasks and source; give one of them");
                return null;
            }

            var source = ParseSource(w, sourceElement, Walker.Join(path, "source"));
            return name is null || source is null ? null : new SuiteDefinition { Name = name, Tasks = [], Source = source };
        }

        var tasks = w.Required(obj, path, "tasks", (e, p) => ParseTasks(w, e, p, promptsFiles));
        return name is null || tasks is null ? null : new SuiteDefinition { Name = name, Tasks = tasks };
    }

    private static SuiteSource? ParseSource(Walker w, JsonElement element, string path)
    {
        var obj = w.Object(element, path, SourceFields);
        if (obj is null)
        {
            return null;
        }

        var blob = w.Required(obj, path, "blob", (e, p) => w.String(e, p));
        if (blob is not null && SuiteSource.PathProblem(blob) is { } problem)
        {
            w.Error(Walker.Join(path, "blob"), $"{Walker.Quote(blob)} {problem}");
            return null;
        }

        return blob is null ? null : new SuiteSource { Blob = blob };
    }

    private List<SuiteTask>? ParseTasks(Walker w, JsonElement element, string path, IPromptsFileSource? promptsFiles)
    {
        var items = w.Array(element, path);
        if (items is null)
        {
            return null;
        }

        if (items.Count == 0 || items.Count > _limits.MaxTasks)
        {
            w.Error(path, $"has {items.Count} tasks; between 1 and {_limits.MaxTasks} are allowed");
            return null;
        }

        var tasks = new List<SuiteTask>(items.Count);
        var seen = new Dictionary<string, int>(StringComparer.Ordinal);
        var ok = true;
        for (var i = 0; i < items.Count; i++)
        {
            var taskPath = $"{path}[{i}]";
            var obj = w.Object(items[i], taskPath, promptsFiles is null ? TaskFields : FileTaskFields);
            if (obj is null)
            {
                ok = false;
                continue;
            }

            var id = w.Required(obj, taskPath, "id", (e, p) =>
            {
                var value = w.String(e, p);
                if (value is not null && !StoreIds.IsValid(value))
                {
                    w.Error(p, $"{Walker.Quote(value)} is not a valid task id: {IdRule}");
                    return null;
                }

                if (value is not null && seen.TryGetValue(value, out var first))
                {
                    w.Error(p, $"duplicate task id '{value}' (also {path}[{first}].id)");
                    return null;
                }

                if (value is not null)
                {
                    seen[value] = i;
                }

                return value;
            });

            List<string>? prompts;
            if (obj.TryGetValue("promptsFile", out var fileElement))
            {
                prompts = obj.ContainsKey("prompts")
                    ? w.ErrorNull<List<string>>(taskPath, "has both prompts and promptsFile; give one of them")
                    : PromptsFromFile(w, fileElement, Walker.Join(taskPath, "promptsFile"), promptsFiles!);
            }
            else if (promptsFiles is not null && !obj.ContainsKey("prompts"))
            {
                prompts = w.ErrorNull<List<string>>(Walker.Join(taskPath, "prompts"), "is required (or promptsFile)");
            }
            else
            {
                prompts = w.Required(obj, taskPath, "prompts", (e, p) => ParsePrompts(w, e, p));
            }

            // A task's own draft length (0 = plain decoding), as the gating mitigation sets it.
            int? gamma = null;
            if (obj.ContainsKey("gamma"))
            {
                var errors = w.ErrorCount;
                gamma = w.OptionalInt(obj, taskPath, "gamma", 0, 0, _limits.MaxGamma);
                ok &= w.ErrorCount == errors;
            }

            List<string>? training = null;
            if (obj.TryGetValue("trainingPrompts", out var trainingElement))
            {
                training = ParsePrompts(w, trainingElement, $"{taskPath}.trainingPrompts");
                if (training is null)
                {
                    ok = false;
                    continue;
                }
            }

            if (id is null || prompts is null)
            {
                ok = false;
                continue;
            }

            // Corrective data must never come from evaluation prompts; positions only, never the prompt text.
            if (training is not null && FirstOverlap(training, prompts) is { } overlap)
            {
                w.Error($"{taskPath}.trainingPrompts[{overlap.Training}]",
                    $"is also {taskPath}.prompts[{overlap.Evaluation}]: training prompts must be disjoint from the evaluation prompts");
                ok = false;
                continue;
            }

            tasks.Add(new SuiteTask { Id = id, Prompts = prompts, TrainingPrompts = training, Gamma = gamma });
        }

        return ok ? tasks : null;
    }

    /// <summary>
    /// The prompts of a task's <c>promptsFile</c>: one per non-blank line of strict UTF-8 (a leading BOM is skipped,
    /// <c>\r\n</c> ends a line too), under the same limits as inline prompts; problems name the line.
    /// </summary>
    private List<string>? PromptsFromFile(Walker w, JsonElement element, string path, IPromptsFileSource files)
    {
        var name = w.String(element, path);
        if (name is null)
        {
            return null;
        }

        if (PromptsFileNameProblem(name) is { } nameProblem)
        {
            w.Error(path, nameProblem);
            return null;
        }

        var file = Walker.Quote(name);
        if (!files.TryRead(name, _limits.MaxBodyBytes, out var content, out var readProblem))
        {
            w.Error(path, $"{file} {readProblem}");
            return null;
        }

        var bytes = content.AsSpan();
        if (bytes.StartsWith(Utf8Bom))
        {
            bytes = bytes[Utf8Bom.Length..];
        }

        var chars = new char[bytes.Length];
        if (Utf8.ToUtf16(bytes, chars, out var read, out var written, replaceInvalidSequences: false) != System.Buffers.OperationStatus.Done)
        {
            w.Error(path, $"{file} is not valid UTF-8 at {Position(bytes, read)}; save it as UTF-8");
            return null;
        }

        var prompts = new List<(string Text, int Line)>();
        var lineNumber = 0;
        foreach (var raw in new string(chars, 0, written).Split('\n'))
        {
            lineNumber++;
            var text = raw.EndsWith('\r') ? raw[..^1] : raw;
            if (!string.IsNullOrWhiteSpace(text))
            {
                prompts.Add((text, lineNumber));
            }
        }

        if (prompts.Count == 0 || prompts.Count > _limits.MaxPromptsPerTask)
        {
            w.Error(path, $"{file} has {prompts.Count} prompts (non-blank lines); between 1 and {_limits.MaxPromptsPerTask} are allowed");
            return null;
        }

        var ok = true;
        foreach (var (text, line) in prompts.Where(p => p.Text.Length > _limits.MaxPromptChars))
        {
            w.Error(path, $"{file} line {line} is {text.Length} characters long; the limit is {_limits.MaxPromptChars}");
            ok = false;
        }

        return ok ? [.. prompts.Select(p => p.Text)] : null;
    }

    /// <summary>
    /// Why <paramref name="name"/> is not a plain file name in the suite's folder, or null: no separators, not
    /// <c>.</c> or <c>..</c>, no control characters (NUL, line breaks), no surrounding white space, at most 255 bytes.
    /// </summary>
    private static string? PromptsFileNameProblem(string name)
    {
        const string Rule = "must be the name of a file in the suite's folder";
        if (name.Length == 0)
        {
            return $"{Rule}, got an empty string";
        }

        if (name is "." or ".." || name.Contains('/') || name.Contains('\\'))
        {
            return $"{Walker.Quote(name)}: {Rule}, without '/' or '\\' and not '.' or '..'";
        }

        if (name.Any(char.IsControl))
        {
            return $"{Walker.Quote(name)}: {Rule}; control characters (NUL, line breaks) are not allowed";
        }

        if (name.Trim().Length != name.Length)
        {
            return $"{Walker.Quote(name)}: {Rule}, without leading or trailing white space";
        }

        return System.Text.Encoding.UTF8.GetByteCount(name) > 255 ? $"{Walker.Quote(name)}: {Rule}; names are at most 255 bytes" : null;
    }

    private static (int Training, int Evaluation)? FirstOverlap(List<string> training, List<string> prompts)
    {
        var index = new Dictionary<string, int>(StringComparer.Ordinal);
        for (var i = prompts.Count - 1; i >= 0; i--)
        {
            index[prompts[i].Trim()] = i;
        }

        for (var i = 0; i < training.Count; i++)
        {
            if (index.TryGetValue(training[i].Trim(), out var j))
            {
                return (i, j);
            }
        }

        return null;
    }

    private List<string>? ParsePrompts(Walker w, JsonElement element, string path)
    {
        var items = w.Array(element, path);
        if (items is null)
        {
            return null;
        }

        if (items.Count == 0 || items.Count > _limits.MaxPromptsPerTask)
        {
            w.Error(path, $"has {items.Count} prompts; between 1 and {_limits.MaxPromptsPerTask} are allowed");
            return null;
        }

        var prompts = new List<string>(items.Count);
        var ok = true;
        for (var i = 0; i < items.Count; i++)
        {
            var promptPath = $"{path}[{i}]";
            var value = w.String(items[i], promptPath);
            if (value is null)
            {
                ok = false;
            }
            else if (string.IsNullOrWhiteSpace(value))
            {
                w.Error(promptPath, "must not be empty or whitespace");
                ok = false;
            }
            else if (value.Length > _limits.MaxPromptChars)
            {
                w.Error(promptPath, $"is {value.Length} characters long; the limit is {_limits.MaxPromptChars}");
                ok = false;
            }
            else
            {
                prompts.Add(value);
            }
        }

        return ok ? prompts : null;
    }

    private string? Model(Walker w, JsonElement element, string path)
    {
        var value = w.String(element, path);
        if (value is null)
        {
            return null;
        }

        if (string.IsNullOrWhiteSpace(value) || !_isKnownModel(value))
        {
            w.Error(path, $"unknown model {Walker.Quote(value)}: not in the model catalog");
            return null;
        }

        return value;
    }

    private EvaluationSettings? ParseSettings(Walker w, JsonElement element, string path)
    {
        var obj = w.Object(element, path, SettingsFields);
        if (obj is null)
        {
            return null;
        }

        var defaults = new EvaluationSettings();
        var errorsBefore = w.ErrorCount;
        var settings = new EvaluationSettings
        {
            Gamma = w.OptionalInt(obj, path, "gamma", defaults.Gamma, 1, _limits.MaxGamma),
            Temperature = w.OptionalDouble(obj, path, "temperature", defaults.Temperature, v => v >= 0, "must be ≥ 0"),
            TopK = w.OptionalInt(obj, path, "topK", defaults.TopK, 0, int.MaxValue),
            TopP = w.OptionalDouble(obj, path, "topP", defaults.TopP, v => v is > 0 and <= 1, "must be in (0, 1]"),
            MaxNewTokens = w.OptionalInt(obj, path, "maxNewTokens", defaults.MaxNewTokens, 1, _limits.MaxNewTokens),
            Seed = w.OptionalLong(obj, path, "seed", defaults.Seed),
            IgnoreEos = w.OptionalBool(obj, path, "ignoreEos", defaults.IgnoreEos),
            Repeats = w.OptionalInt(obj, path, "repeats", defaults.Repeats, 1, _limits.MaxRepeats),
            PromptsPerShard = obj.ContainsKey("promptsPerShard") ? w.OptionalInt(obj, path, "promptsPerShard", 1, 1, _limits.MaxPromptsPerShard) : null,
        };
        return w.ErrorCount == errorsBefore ? settings : null;
    }

    private static MitigationPolicy? ParseMitigation(Walker w, JsonElement element, string path, MitigationPolicy defaults)
    {
        var obj = w.Object(element, path, MitigationFields);
        if (obj is null)
        {
            return null;
        }

        var errorsBefore = w.ErrorCount;
        if (obj.ContainsKey("meanSpeedupTolerance"))
        {
            // The rule no longer guards the mean: it guards every task with a paired interval (method.md §6 step 5).
            w.Error($"{path}.meanSpeedupTolerance", "was replaced by speedupMargin: a result is promoted only when no task's measured after/before falls below 1 − speedupMargin at 95 % confidence");
        }

        var policy = new MitigationPolicy
        {
            UnfairnessThreshold = w.OptionalDouble(obj, path, "unfairnessThreshold", defaults.UnfairnessThreshold, v => v >= 0, "must be ≥ 0"),
            SpeedupGapThreshold = w.OptionalDouble(obj, path, "speedupGapThreshold", defaults.SpeedupGapThreshold, v => v >= 0, "must be ≥ 0"),
            AutoMitigate = w.OptionalBool(obj, path, "autoMitigate", defaults.AutoMitigate),
            SpeedupMargin = w.OptionalDouble(obj, path, "speedupMargin", defaults.SpeedupMargin, v => v is >= 0 and < 1, "must be in [0, 1)"),
            Strategy = obj.TryGetValue("strategy", out var strategy) ? Strategy(w, strategy, $"{path}.strategy") ?? defaults.Strategy : defaults.Strategy,
        };
        return w.ErrorCount == errorsBefore ? policy : null;
    }

    private static string? Strategy(Walker w, JsonElement element, string path)
    {
        var value = w.String(element, path);
        if (value is not null && !Strategies.Contains(value, StringComparer.Ordinal))
        {
            w.Error(path, $"unknown strategy '{value}'; use one of {string.Join(", ", Strategies)}");
            return null;
        }

        return value;
    }

    private sealed class ErrorList
    {
        private readonly List<ValidationError> _items = [];
        private int _dropped;

        public int Count => _items.Count + _dropped;

        public IReadOnlyList<ValidationError> Items => _dropped == 0
            ? _items
            : [.. _items, new ValidationError("$", $"{_dropped} more errors not shown")];

        public void Add(string field, string problem)
        {
            if (_items.Count < MaxErrors)
            {
                _items.Add(new ValidationError(field.Length == 0 ? "$" : field, problem));
            }
            else
            {
                _dropped++;
            }
        }
    }

    /// <summary>Type checks that record errors instead of throwing, so one pass reports every problem.</summary>
    private sealed class Walker(ErrorList errors, EvaluationLimits limits)
    {
        public const string LoneSurrogate = "is not valid Unicode text: it has a lone surrogate escape (\\uD800-\\uDFFF without its pair)";

        public EvaluationLimits Limits { get; } = limits;

        public int ErrorCount => errors.Count;

        public void Error(string path, string problem) => errors.Add(path, problem);

        public T? ErrorNull<T>(string path, string problem)
            where T : class
        {
            Error(path, problem);
            return null;
        }

        public static string Join(string path, string name) =>
            (path.Length == 0 ? "" : path + ".") + (IsPlainName(name) ? name : $"[{Quote(name)}]");

        // Quote and truncate so that hostile input can neither flood nor forge an error message.
        public static string Quote(string value) =>
            "'" + new string(value.Take(64).Select(c => char.IsControl(c) ? '?' : c).ToArray()) + (value.Length > 64 ? "…'" : "'");

        public Dictionary<string, JsonElement>? Object(JsonElement element, string path, string[] allowed)
        {
            if (element.ValueKind != JsonValueKind.Object)
            {
                Error(path, $"must be an object, got {Kind(element)}");
                return null;
            }

            var result = new Dictionary<string, JsonElement>(StringComparer.Ordinal);
            var ok = true;
            foreach (var property in element.EnumerateObject())
            {
                string name;
                try
                {
                    name = property.Name;
                }
                catch (InvalidOperationException)
                {
                    Error(path, "has a field name that " + LoneSurrogate);
                    ok = false;
                    continue;
                }

                var field = Join(path, name);
                if (!allowed.Contains(name, StringComparer.Ordinal))
                {
                    Error(field, $"unknown field (allowed here: {string.Join(", ", allowed)})");
                    ok = false;
                }
                else if (!result.TryAdd(name, property.Value))
                {
                    Error(field, "appears more than once");
                    ok = false;
                }
            }

            return ok ? result : null;
        }

        public List<JsonElement>? Array(JsonElement element, string path)
        {
            if (element.ValueKind != JsonValueKind.Array)
            {
                Error(path, $"must be an array, got {Kind(element)}");
                return null;
            }

            return [.. element.EnumerateArray()];
        }

        public T? Required<T>(Dictionary<string, JsonElement> obj, string path, string name, Func<JsonElement, string, T?> read)
            where T : class
        {
            var field = Join(path, name);
            if (!obj.TryGetValue(name, out var element))
            {
                Error(field, "is required");
                return null;
            }

            return read(element, field);
        }

        public string? String(JsonElement element, string path)
        {
            if (element.ValueKind != JsonValueKind.String)
            {
                Error(path, $"must be a string, got {Kind(element)}");
                return null;
            }

            try
            {
                return element.GetString();
            }
            catch (InvalidOperationException)
            {
                // The document is valid UTF-8 (checked up front), so the only string that cannot be read is one whose
                // escapes are invalid UTF-16: a lone surrogate such as "\ud800".
                Error(path, LoneSurrogate);
                return null;
            }
        }

        public int OptionalInt(Dictionary<string, JsonElement> obj, string path, string name, int fallback, int min, int max)
        {
            if (!obj.TryGetValue(name, out var element))
            {
                return fallback;
            }

            var field = Join(path, name);
            if (element.ValueKind != JsonValueKind.Number || !element.TryGetInt64(out var value))
            {
                Error(field, element.ValueKind == JsonValueKind.Number ? "must be a whole number" : $"must be an integer, got {Kind(element)}");
                return fallback;
            }

            if (value < min || value > max)
            {
                Error(field, max == int.MaxValue ? $"is {value}; must be ≥ {min}" : $"is {value}; must be between {min} and {max}");
                return fallback;
            }

            return (int)value;
        }

        public long OptionalLong(Dictionary<string, JsonElement> obj, string path, string name, long fallback)
        {
            if (!obj.TryGetValue(name, out var element))
            {
                return fallback;
            }

            if (element.ValueKind != JsonValueKind.Number || !element.TryGetInt64(out var value))
            {
                Error(Join(path, name), element.ValueKind == JsonValueKind.Number
                    ? "must be a whole number within the 64-bit range"
                    : $"must be an integer, got {Kind(element)}");
                return fallback;
            }

            return value;
        }

        public double OptionalDouble(Dictionary<string, JsonElement> obj, string path, string name, double fallback, Func<double, bool> valid, string rule)
        {
            if (!obj.TryGetValue(name, out var element))
            {
                return fallback;
            }

            var field = Join(path, name);
            if (element.ValueKind != JsonValueKind.Number)
            {
                Error(field, $"must be a number, got {Kind(element)}");
                return fallback;
            }

            if (!element.TryGetDouble(out var value) || !double.IsFinite(value))
            {
                Error(field, "must be a finite number");
                return fallback;
            }

            if (!valid(value))
            {
                Error(field, string.Create(CultureInfo.InvariantCulture, $"is {value}; {rule}"));
                return fallback;
            }

            return value;
        }

        public bool OptionalBool(Dictionary<string, JsonElement> obj, string path, string name, bool fallback)
        {
            if (!obj.TryGetValue(name, out var element))
            {
                return fallback;
            }

            if (element.ValueKind is not (JsonValueKind.True or JsonValueKind.False))
            {
                Error(Join(path, name), $"must be true or false, got {Kind(element)}");
                return fallback;
            }

            return element.GetBoolean();
        }

        private static bool IsPlainName(string name) =>
            name.Length is > 0 and <= 64 && name.All(c => char.IsAsciiLetterOrDigit(c) || c == '_');

        private static string Kind(JsonElement element) => element.ValueKind switch
        {
            JsonValueKind.Object => "an object",
            JsonValueKind.Array => "an array",
            JsonValueKind.String => "a string",
            JsonValueKind.Number => "a number",
            JsonValueKind.True or JsonValueKind.False => "a boolean",
            JsonValueKind.Null => "null (omit the field to use its default)",
            _ => "nothing",
        };
    }
}
