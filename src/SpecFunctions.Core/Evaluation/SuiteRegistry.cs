using System.Text.Json;
using System.Text.Json.Serialization;
using SpecFunctions.Core.Storage;

namespace SpecFunctions.Core.Evaluation;

/// <summary>A suite the nightly audit re-runs: the submission to repeat and the runs made so far (oldest first).</summary>
public sealed record RegisteredSuite
{
    /// <summary>Registry key; follows <see cref="StoreIds.Pattern"/> and at most <see cref="SuiteRegistry.MaxNameChars"/> characters, as it becomes part of run ids.</summary>
    [JsonPropertyName("name")]
    public required string Name { get; init; }

    /// <summary>The submission to repeat; its <see cref="EvaluationRequest.RunId"/> is replaced by each audit's run id.</summary>
    [JsonPropertyName("request")]
    public required EvaluationRequest Request { get; init; }

    /// <summary>Audit run ids, oldest first, at most <see cref="SuiteRegistry.MaxRunsKept"/>.</summary>
    [JsonPropertyName("runs")]
    public IReadOnlyList<string> Runs { get; init; } = [];
}

/// <summary>The registry document, <c>registry/suites.json</c>.</summary>
public sealed record SuiteRegistryDocument
{
    [JsonPropertyName("suites")]
    public IReadOnlyList<RegisteredSuite> Suites { get; init; } = [];
}

/// <summary>
/// The suites the nightly audit re-runs, one small JSON object in the store (<see cref="TraceStoreLayout.SuiteRegistry"/>).
/// Updates use compare-and-swap so concurrent audits and registrations never lose each other's changes.
/// </summary>
public sealed class SuiteRegistry(IObjectStore objects)
{
    /// <summary>Longest registry name: audit run ids add a 23-character prefix and time stamp within the 64-character id limit.</summary>
    public const int MaxNameChars = 40;

    /// <summary>Runs remembered per suite; older ids are dropped from the registry (their data stays in the store).</summary>
    public const int MaxRunsKept = 30;

    private const int MaxAttempts = 20;

    private static readonly JsonSerializerOptions JsonOptions = new(JsonSerializerDefaults.Web) { WriteIndented = true };

    private readonly IObjectStore _objects = objects ?? throw new ArgumentNullException(nameof(objects));

    /// <summary>All registered suites, in name order; empty when the registry was never written.</summary>
    public async Task<IReadOnlyList<RegisteredSuite>> ListAsync(CancellationToken cancellationToken = default)
    {
        var (document, _) = await ReadAsync(cancellationToken).ConfigureAwait(false);
        return document.Suites;
    }

    /// <summary>Adds or replaces the suite <paramref name="name"/>, keeping its run history.</summary>
    public Task<RegisteredSuite> RegisterAsync(string name, EvaluationRequest request, CancellationToken cancellationToken = default)
    {
        ValidateName(name);
        ArgumentNullException.ThrowIfNull(request);
        return UpdateAsync(name, existing => new RegisteredSuite { Name = name, Request = request, Runs = existing?.Runs ?? [] }, cancellationToken);
    }

    /// <summary>Appends <paramref name="runId"/> to the suite's history (no-op when already last).</summary>
    public Task<RegisteredSuite> RecordRunAsync(string name, string runId, CancellationToken cancellationToken = default)
    {
        StoreIds.Validate(runId, "run");
        return UpdateAsync(name, existing =>
        {
            if (existing is null)
            {
                throw new KeyNotFoundException($"suite '{name}' is not registered");
            }

            if (existing.Runs.Count > 0 && existing.Runs[^1] == runId)
            {
                return existing;
            }

            return existing with { Runs = [.. existing.Runs.Append(runId).TakeLast(MaxRunsKept)] };
        }, cancellationToken);
    }

    /// <summary>Throws <see cref="ArgumentException"/> unless <paramref name="name"/> can key the registry and prefix run ids.</summary>
    public static void ValidateName(string name)
    {
        StoreIds.Validate(name, "suite");
        if (name.Length > MaxNameChars)
        {
            throw new ArgumentException($"suite name '{name}' is {name.Length} characters long; registered suites allow at most {MaxNameChars}", nameof(name));
        }
    }

    private async Task<RegisteredSuite> UpdateAsync(string name, Func<RegisteredSuite?, RegisteredSuite> update, CancellationToken cancellationToken)
    {
        for (var attempt = 1; ; attempt++)
        {
            var (document, version) = await ReadAsync(cancellationToken).ConfigureAwait(false);
            var existing = document.Suites.FirstOrDefault(s => s.Name == name);
            var updated = update(existing);
            if (ReferenceEquals(updated, existing))
            {
                return updated;
            }

            var suites = document.Suites.Where(s => s.Name != name).Append(updated).OrderBy(s => s.Name, StringComparer.Ordinal).ToList();
            var bytes = JsonSerializer.SerializeToUtf8Bytes(new SuiteRegistryDocument { Suites = suites }, JsonOptions);
            try
            {
                await _objects.WriteConditionalAsync(TraceStoreLayout.SuiteRegistry, bytes, version, cancellationToken).ConfigureAwait(false);
                return updated;
            }
            catch (ObjectConflictException) when (attempt < MaxAttempts)
            {
                // Someone else changed the registry since we read it: re-read and re-apply.
            }
        }
    }

    private async Task<(SuiteRegistryDocument Document, string? Version)> ReadAsync(CancellationToken cancellationToken)
    {
        var content = await _objects.ReadVersionedAsync(TraceStoreLayout.SuiteRegistry, cancellationToken).ConfigureAwait(false);
        if (content is null)
        {
            return (new SuiteRegistryDocument(), null);
        }

        try
        {
            var document = JsonSerializer.Deserialize<SuiteRegistryDocument>(content.Content.Span, JsonOptions)
                ?? throw new JsonException("the document is null");
            return (document, content.Version);
        }
        catch (JsonException ex)
        {
            throw new TraceStoreException($"{TraceStoreLayout.SuiteRegistry} in {_objects.Location} is not a valid suite registry: {ex.Message}", ex);
        }
    }
}
