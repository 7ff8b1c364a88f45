using System.Globalization;
using System.Text;
using System.Text.Json;
using System.Text.Json.Serialization;
using SpecFunctions.Core.Storage;

namespace SpecFunctions.Core.Evaluation;

/// <summary>
/// A suite whose prompts live in the app's store instead of the submission (docs/estimate.md, "Suites by reference"):
/// one blob of the trace container under <see cref="Prefix"/>, JSON lines (<c>.jsonl</c>) or tab-separated values
/// (<c>.tsv</c>), one prompt (or training prompt) per line with its task id. Read and validated by the run's
/// <c>PrepareRun</c> step before any evaluation starts (<see cref="SuiteSourceReader"/>).
/// </summary>
public sealed record SuiteSource
{
    /// <summary>Referenced suites live under this prefix of the store, apart from runs, traces and models.</summary>
    public const string Prefix = "suites/";

    /// <summary>Longest blob path, characters.</summary>
    public const int MaxBlobChars = 1024;

    /// <summary>Path of the blob inside the store's container, e.g. <c>suites/mgsm.jsonl</c>.</summary>
    [JsonPropertyName("blob")]
    public required string Blob { get; init; }

    /// <summary>The line format, from the blob's extension.</summary>
    [JsonIgnore]
    public SuiteSourceFormat Format => FormatOf(Blob) ?? throw new InvalidOperationException($"'{Blob}' has no known suite extension");

    /// <summary>The format named by <paramref name="blob"/>'s extension (<c>.jsonl</c>, <c>.tsv</c>), or null.</summary>
    public static SuiteSourceFormat? FormatOf(string blob) =>
        blob.EndsWith(".jsonl", StringComparison.Ordinal) ? SuiteSourceFormat.JsonLines
        : blob.EndsWith(".tsv", StringComparison.Ordinal) ? SuiteSourceFormat.Tsv
        : null;

    /// <summary>
    /// Why <paramref name="blob"/> cannot name a referenced suite, or null: under <see cref="Prefix"/>, '/'-separated
    /// segments that are neither empty, <c>.</c> nor <c>..</c>, no backslash or control character, at most
    /// <see cref="MaxBlobChars"/> characters, ending in <c>.jsonl</c> or <c>.tsv</c>.
    /// </summary>
    public static string? PathProblem(string blob)
    {
        if (!blob.StartsWith(Prefix, StringComparison.Ordinal) || blob.Length == Prefix.Length)
        {
            return $"must be a blob under '{Prefix}' in the app's store, e.g. 'suites/mgsm.jsonl'";
        }

        if (blob.Length > MaxBlobChars)
        {
            return $"is {blob.Length} characters long; the limit is {MaxBlobChars}";
        }

        if (blob.Any(c => char.IsControl(c) || c == '\\') || blob.Split('/').Any(s => s is "" or "." or ".."))
        {
            return "must be a '/'-separated path without empty, '.' or '..' segments, backslashes or control characters";
        }

        return FormatOf(blob) is null ? "must end in .jsonl (JSON lines) or .tsv (tab-separated values)" : null;
    }
}

/// <summary>Line format of a referenced suite.</summary>
public enum SuiteSourceFormat
{
    /// <summary><c>{"task": "en", "prompt": "…"}</c> or <c>{"task": "en", "trainingPrompt": "…"}</c> per line.</summary>
    JsonLines,

    /// <summary><c>task&lt;TAB&gt;prompt|training&lt;TAB&gt;text</c> per line (the text holds no tab or line break).</summary>
    Tsv,
}

/// <summary>A referenced suite could not be used: the blob is missing, too large, or one of its lines is invalid.</summary>
public sealed class SuiteSourceException : Exception
{
    public SuiteSourceException(string blob, long? line, string problem)
        : base(line is { } l
            ? string.Create(CultureInfo.InvariantCulture, $"referenced suite '{blob}' line {l}: {problem}")
            : $"referenced suite '{blob}': {problem}")
    {
        Blob = blob;
        Line = line;
    }

    /// <summary>The blob's path in the store.</summary>
    public string Blob { get; }

    /// <summary>The line (from 1) at fault; null for a problem of the whole blob.</summary>
    public long? Line { get; }
}

/// <summary>
/// Reads a referenced suite line by line, validating each line as it is read under the referenced-suite limits
/// (<see cref="EvaluationLimits.MaxReferencedTasks"/>, <see cref="EvaluationLimits.MaxReferencedPromptsPerTask"/>,
/// <see cref="EvaluationLimits.MaxReferencedBytes"/>) and the inline rules for each prompt (non-blank, at most
/// <see cref="EvaluationLimits.MaxPromptChars"/>, training prompts disjoint from the task's prompts). The first problem
/// stops the read with a <see cref="SuiteSourceException"/> naming the blob and the line; the blob is never held whole.
/// </summary>
public static class SuiteSourceReader
{
    private static readonly UTF8Encoding StrictUtf8 = new(encoderShouldEmitUTF8Identifier: false, throwOnInvalidBytes: true);

    private static ReadOnlySpan<byte> Utf8Bom => [0xEF, 0xBB, 0xBF];

    /// <summary>Opens <paramref name="source"/>'s blob in <paramref name="objects"/> and reads the suite's tasks.</summary>
    /// <exception cref="SuiteSourceException">The blob is missing or invalid.</exception>
    public static async Task<SuiteDefinition> ReadAsync(IObjectStore objects, string suiteName, SuiteSource source, EvaluationLimits limits, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(objects);
        ArgumentNullException.ThrowIfNull(source);
        if (SuiteSource.PathProblem(source.Blob) is { } problem)
        {
            throw new SuiteSourceException(source.Blob, null, problem);
        }

        var stream = await objects.OpenReadAsync(source.Blob, cancellationToken).ConfigureAwait(false)
            ?? throw new SuiteSourceException(source.Blob, null, $"no such blob in {objects.Location}; upload it first");
        await using (stream.ConfigureAwait(false))
        {
            var tasks = await ReadTasksAsync(stream, source.Blob, source.Format, limits, cancellationToken).ConfigureAwait(false);
            return new SuiteDefinition { Name = suiteName, Tasks = tasks, Source = source };
        }
    }

    /// <summary>Reads the tasks of a referenced suite from <paramref name="stream"/> (named <paramref name="blob"/> in messages).</summary>
    /// <exception cref="SuiteSourceException">A line is invalid or a limit is passed.</exception>
    public static async Task<IReadOnlyList<SuiteTask>> ReadTasksAsync(Stream stream, string blob, SuiteSourceFormat format, EvaluationLimits limits, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(stream);
        ArgumentNullException.ThrowIfNull(limits);
        var tasks = new Dictionary<string, TaskLines>(StringComparer.Ordinal);
        var order = new List<TaskLines>();
        // Lines are split on the bytes and each is decoded strictly on its own, so an invalid byte is reported on its
        // line (a decoder over the whole stream would fail on a read-ahead buffer instead).
        var maxLineBytes = (limits.MaxPromptChars * 6) + 1024;
        var lines = new LineReader(stream, limits.MaxReferencedBytes, maxLineBytes);
        long lineNumber = 0;
        while (true)
        {
            ReadOnlyMemory<byte>? bytes;
            try
            {
                bytes = await lines.NextAsync(cancellationToken).ConfigureAwait(false);
            }
            catch (SizeLimitException)
            {
                throw new SuiteSourceException(blob, null, string.Create(CultureInfo.InvariantCulture,
                    $"is larger than {limits.MaxReferencedBytes} bytes (Evaluation:Limits:MaxReferencedBytes)"));
            }
            catch (LineTooLongException)
            {
                throw new SuiteSourceException(blob, lineNumber + 1, string.Create(CultureInfo.InvariantCulture,
                    $"is longer than {maxLineBytes} bytes; no prompt of at most {limits.MaxPromptChars} characters needs that many"));
            }

            if (bytes is not { } raw)
            {
                break;
            }

            lineNumber++;
            var span = raw.Span;
            if (lineNumber == 1 && span.StartsWith(Utf8Bom))
            {
                span = span[Utf8Bom.Length..];
            }

            if (span.EndsWith((ReadOnlySpan<byte>)[(byte)'\r']))
            {
                span = span[..^1];
            }

            string line;
            try
            {
                line = StrictUtf8.GetString(span);
            }
            catch (DecoderFallbackException)
            {
                throw new SuiteSourceException(blob, lineNumber, "is not valid UTF-8; save the suite as UTF-8");
            }

            if (string.IsNullOrWhiteSpace(line))
            {
                continue;
            }

            var (taskId, training, text) = format == SuiteSourceFormat.JsonLines ? ParseJsonLine(line, blob, lineNumber) : ParseTsvLine(line, blob, lineNumber);
            if (!StoreIds.IsValid(taskId))
            {
                throw new SuiteSourceException(blob, lineNumber, $"task {Quote(taskId)} is not a valid task id: ids are 1-64 lower-case letters, digits, '-' or '_', starting with a letter or digit");
            }

            if (string.IsNullOrWhiteSpace(text))
            {
                throw new SuiteSourceException(blob, lineNumber, "the prompt must not be empty or whitespace");
            }

            if (text.Length > limits.MaxPromptChars)
            {
                throw new SuiteSourceException(blob, lineNumber, $"the prompt is {text.Length} characters long; the limit is {limits.MaxPromptChars}");
            }

            if (!tasks.TryGetValue(taskId, out var task))
            {
                if (tasks.Count == limits.MaxReferencedTasks)
                {
                    throw new SuiteSourceException(blob, lineNumber, $"task '{taskId}' is task {tasks.Count + 1}; referenced suites allow at most {limits.MaxReferencedTasks} tasks (Evaluation:Limits:MaxReferencedTasks)");
                }

                task = new TaskLines(taskId, lineNumber);
                tasks.Add(taskId, task);
                order.Add(task);
            }

            var list = training ? task.Training : task.Prompts;
            if (list.Count == limits.MaxReferencedPromptsPerTask)
            {
                throw new SuiteSourceException(blob, lineNumber, $"task '{taskId}' has more than {limits.MaxReferencedPromptsPerTask} {(training ? "training prompts" : "prompts")} (Evaluation:Limits:MaxReferencedPromptsPerTask)");
            }

            // Corrective data must never come from evaluation prompts (the inline rule), whichever comes first.
            var key = text.Trim();
            var other = training ? task.PromptLines : task.TrainingLines;
            if (other.TryGetValue(key, out var otherLine))
            {
                throw new SuiteSourceException(blob, lineNumber, string.Create(CultureInfo.InvariantCulture,
                    $"is the same text as line {otherLine} of task '{taskId}': training prompts must be disjoint from the evaluation prompts"));
            }

            (training ? task.TrainingLines : task.PromptLines).TryAdd(key, lineNumber);
            list.Add(text);
        }

        if (order.Count == 0)
        {
            throw new SuiteSourceException(blob, null, "has no prompts (no non-blank lines)");
        }

        if (order.FirstOrDefault(t => t.Prompts.Count == 0) is { } empty)
        {
            throw new SuiteSourceException(blob, empty.FirstLine, $"task '{empty.Id}' has training prompts but no prompts to evaluate");
        }

        return [.. order.Select(t => new SuiteTask { Id = t.Id, Prompts = t.Prompts, TrainingPrompts = t.Training.Count > 0 ? t.Training : null })];
    }

    private static (string Task, bool Training, string Text) ParseJsonLine(string line, string blob, long lineNumber)
    {
        JsonDocument document;
        try
        {
            document = JsonDocument.Parse(line, new JsonDocumentOptions { MaxDepth = 4 });
        }
        catch (JsonException ex)
        {
            throw new SuiteSourceException(blob, lineNumber, string.Create(CultureInfo.InvariantCulture,
                $"is not valid JSON at byte {ex.BytePositionInLine + 1}; each line is one object such as {{\"task\": \"en\", \"prompt\": \"…\"}}"));
        }

        using (document)
        {
            var root = document.RootElement;
            if (root.ValueKind != JsonValueKind.Object)
            {
                throw new SuiteSourceException(blob, lineNumber, "must be a JSON object such as {\"task\": \"en\", \"prompt\": \"…\"}");
            }

            string? task = null, prompt = null, training = null;
            foreach (var property in root.EnumerateObject())
            {
                _ = ReadName(property, blob, lineNumber);
                var value = property.Value.ValueKind == JsonValueKind.String
                    ? ReadString(property.Value, blob, lineNumber, property.Name)
                    : throw new SuiteSourceException(blob, lineNumber, $"field {Quote(property.Name)} must be a string");
                switch (property.Name)
                {
                    case "task" when task is null:
                        task = value;
                        break;
                    case "prompt" when prompt is null:
                        prompt = value;
                        break;
                    case "trainingPrompt" when training is null:
                        training = value;
                        break;
                    case "task" or "prompt" or "trainingPrompt":
                        throw new SuiteSourceException(blob, lineNumber, $"field '{property.Name}' appears more than once");
                    default:
                        throw new SuiteSourceException(blob, lineNumber, $"unknown field {Quote(property.Name)} (allowed: task, prompt, trainingPrompt)");
                }
            }

            if (task is null)
            {
                throw new SuiteSourceException(blob, lineNumber, "field 'task' is required");
            }

            return (prompt, training) switch
            {
                ({ } p, null) => (task, false, p),
                (null, { } t) => (task, true, t),
                (null, null) => throw new SuiteSourceException(blob, lineNumber, "needs 'prompt' or 'trainingPrompt'"),
                _ => throw new SuiteSourceException(blob, lineNumber, "has both 'prompt' and 'trainingPrompt'; give one per line"),
            };
        }
    }

    private static string ReadName(JsonProperty property, string blob, long lineNumber)
    {
        try
        {
            return property.Name;
        }
        catch (InvalidOperationException)
        {
            throw new SuiteSourceException(blob, lineNumber, "has a field name that is not valid Unicode text: it has a lone surrogate escape");
        }
    }

    private static string ReadString(JsonElement element, string blob, long lineNumber, string field)
    {
        try
        {
            return element.GetString()!;
        }
        catch (InvalidOperationException)
        {
            throw new SuiteSourceException(blob, lineNumber, $"field {Quote(field)} is not valid Unicode text: it has a lone surrogate escape");
        }
    }

    private static (string Task, bool Training, string Text) ParseTsvLine(string line, string blob, long lineNumber)
    {
        var fields = line.Split('\t');
        if (fields.Length != 3)
        {
            throw new SuiteSourceException(blob, lineNumber, $"has {fields.Length} tab-separated fields; expected 3: task, kind (prompt or training), text");
        }

        return fields[1] switch
        {
            "prompt" => (fields[0], false, fields[2]),
            "training" => (fields[0], true, fields[2]),
            _ => throw new SuiteSourceException(blob, lineNumber, $"kind {Quote(fields[1])} is neither 'prompt' nor 'training'"),
        };
    }

    // Quote and truncate so that a hostile blob can neither flood nor forge an error message.
    private static string Quote(string value) =>
        "'" + new string([.. value.Take(64).Select(c => char.IsControl(c) ? '?' : c)]) + (value.Length > 64 ? "…'" : "'");

    private sealed class TaskLines(string id, long firstLine)
    {
        public string Id { get; } = id;

        public long FirstLine { get; } = firstLine;

        public List<string> Prompts { get; } = [];

        public List<string> Training { get; } = [];

        public Dictionary<string, long> PromptLines { get; } = new(StringComparer.Ordinal);

        public Dictionary<string, long> TrainingLines { get; } = new(StringComparer.Ordinal);
    }

    private sealed class SizeLimitException : Exception;

    private sealed class LineTooLongException : Exception;

    /// <summary>
    /// The lines of a stream ('\n'-separated, without the '\n'), read in 64 KiB chunks; fails once more than
    /// <c>maxBytes</c> were read or a line passes <c>maxLineBytes</c>, so a huge blob or line is never held whole.
    /// </summary>
    private sealed class LineReader(Stream stream, long maxBytes, int maxLineBytes)
    {
        private readonly byte[] _chunk = new byte[64 * 1024];
        private readonly System.Buffers.ArrayBufferWriter<byte> _line = new();
        private int _start;
        private int _end;
        private long _read;
        private bool _done;

        public async ValueTask<ReadOnlyMemory<byte>?> NextAsync(CancellationToken cancellationToken)
        {
            _line.ResetWrittenCount();
            while (true)
            {
                if (_start == _end)
                {
                    if (_done)
                    {
                        // Typed: a bare null would convert to an empty ReadOnlyMemory (through byte[]) and never end the read.
                        return _line.WrittenCount > 0 ? _line.WrittenMemory : (ReadOnlyMemory<byte>?)null;
                    }

                    _end = await stream.ReadAsync(_chunk, cancellationToken).ConfigureAwait(false);
                    _start = 0;
                    _read += _end;
                    _done = _end == 0;
                    if (_read > maxBytes)
                    {
                        throw new SizeLimitException();
                    }

                    continue;
                }

                var available = _chunk.AsSpan(_start, _end - _start);
                var newline = available.IndexOf((byte)'\n');
                var part = newline < 0 ? available : available[..newline];
                if (_line.WrittenCount + part.Length > maxLineBytes)
                {
                    throw new LineTooLongException();
                }

                System.Buffers.BuffersExtensions.Write(_line, part);
                _start += part.Length;
                if (newline >= 0)
                {
                    _start++;
                    return _line.WrittenMemory;
                }
            }
        }
    }
}
