using System.Text.Json;
using SpecFunctions.Core.Storage;

namespace SpecFunctions.Core.Evaluation;

/// <summary>
/// A suite (<c>{ "name": …, "tasks": [ … ] }</c> or <c>{ "name": …, "source": { "blob": … } }</c>), whether it is the
/// <c>suite</c> of a submission or the root of a suite file: task ids, prompts, training prompts kept apart from the
/// evaluation prompts, a task's own draft length, and (suite files only) <c>promptsFile</c>.
/// </summary>
internal sealed class SuiteParser(EvaluationLimits limits)
{
    /// <summary>How a valid run or task id looks (<see cref="StoreIds"/>), for messages.</summary>
    public const string IdRule = "ids are 1-64 lower-case letters, digits, '-' or '_', starting with a letter or digit";

    private static readonly string[] SuiteFields = ["name", "tasks", "source"];
    private static readonly string[] SourceFields = ["blob"];
    private static readonly string[] TaskFields = ["id", "prompts", "trainingPrompts", "gamma"];
    private static readonly string[] FileTaskFields = ["id", "prompts", "promptsFile", "trainingPrompts", "gamma"];

    public SuiteDefinition? Parse(StrictJsonWalker w, JsonElement element, string path, IPromptsFileSource? promptsFiles)
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

            if (value.Length > EvaluationRequestParser.MaxSuiteNameChars)
            {
                w.Error(p, $"is {value.Length} characters long; the limit is {EvaluationRequestParser.MaxSuiteNameChars}");
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

            var source = ParseSource(w, sourceElement, StrictJsonWalker.Join(path, "source"));
            return name is null || source is null ? null : new SuiteDefinition { Name = name, Tasks = [], Source = source };
        }

        var tasks = w.Required(obj, path, "tasks", (e, p) => ParseTasks(w, e, p, promptsFiles));
        return name is null || tasks is null ? null : new SuiteDefinition { Name = name, Tasks = tasks };
    }

    private static SuiteSource? ParseSource(StrictJsonWalker w, JsonElement element, string path)
    {
        var obj = w.Object(element, path, SourceFields);
        if (obj is null)
        {
            return null;
        }

        var blob = w.Required(obj, path, "blob", (e, p) => w.String(e, p));
        if (blob is not null && SuiteSource.PathProblem(blob) is { } problem)
        {
            w.Error(StrictJsonWalker.Join(path, "blob"), $"{StrictJsonWalker.Quote(blob)} {problem}");
            return null;
        }

        return blob is null ? null : new SuiteSource { Blob = blob };
    }

    private List<SuiteTask>? ParseTasks(StrictJsonWalker w, JsonElement element, string path, IPromptsFileSource? promptsFiles)
    {
        var items = w.Array(element, path);
        if (items is null)
        {
            return null;
        }

        if (items.Count == 0 || items.Count > limits.MaxTasks)
        {
            w.Error(path, $"has {items.Count} tasks; between 1 and {limits.MaxTasks} are allowed");
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
                    w.Error(p, $"{StrictJsonWalker.Quote(value)} is not a valid task id: {IdRule}");
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
                    : PromptsFile.Read(w, fileElement, StrictJsonWalker.Join(taskPath, "promptsFile"), promptsFiles!, limits);
            }
            else if (promptsFiles is not null && !obj.ContainsKey("prompts"))
            {
                prompts = w.ErrorNull<List<string>>(StrictJsonWalker.Join(taskPath, "prompts"), "is required (or promptsFile)");
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
                gamma = w.OptionalInt(obj, taskPath, "gamma", 0, 0, limits.MaxGamma);
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

    private List<string>? ParsePrompts(StrictJsonWalker w, JsonElement element, string path)
    {
        var items = w.Array(element, path);
        if (items is null)
        {
            return null;
        }

        if (items.Count == 0 || items.Count > limits.MaxPromptsPerTask)
        {
            w.Error(path, $"has {items.Count} prompts; between 1 and {limits.MaxPromptsPerTask} are allowed");
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
            else if (value.Length > limits.MaxPromptChars)
            {
                w.Error(promptPath, $"is {value.Length} characters long; the limit is {limits.MaxPromptChars}");
                ok = false;
            }
            else
            {
                prompts.Add(value);
            }
        }

        return ok ? prompts : null;
    }
}
