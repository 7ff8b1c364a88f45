using System.Text.Json;
using Azure.Identity;
using Azure.Storage.Queues;
using Microsoft.Extensions.Configuration;
using SpecFunctions.Orchestration;
using SpecFunctions.Storage;

namespace SpecFunctions.Functions.Evaluator;

/// <summary>
/// The two queues between the planes: <see cref="Evaluations"/> (control plane → evaluator, one <see cref="QueuedTask"/>
/// per task; the evaluator's scale rule watches its length) and <see cref="Completions"/> (evaluator → control plane, one
/// <see cref="TaskCompletion"/> per evaluation). Both live in the app's storage account (<c>AzureWebJobsStorage</c>), where
/// the queue triggers read them with the same identity; messages are JSON in base64, as Functions queue triggers expect.
/// </summary>
public sealed class TaskQueues
{
    public const string Evaluations = "specfn-evaluations";
    public const string Completions = "specfn-completions";

    /// <summary>System.Text.Json web defaults, as every other body of the app.</summary>
    public static JsonSerializerOptions Json { get; } = new(JsonSerializerDefaults.Web);

    private readonly Lazy<QueueClient> _evaluations;
    private readonly Lazy<QueueClient> _completions;
    private readonly HashSet<string> _created = [];
    private readonly SemaphoreSlim _lock = new(1, 1);

    public TaskQueues(Func<string, QueueClient> client)
    {
        _evaluations = new(() => client(Evaluations));
        _completions = new(() => client(Completions));
    }

    public TaskQueues(IConfiguration configuration)
        : this(name => StorageQueues.Client(configuration, name))
    {
    }

    public QueueClient EvaluationQueue => _evaluations.Value;

    public QueueClient CompletionQueue => _completions.Value;

    public Task SendAsync(QueuedTask message, CancellationToken cancellationToken = default) =>
        SendAsync(EvaluationQueue, BinaryData.FromObjectAsJson(message, Json), cancellationToken);

    public Task SendAsync(TaskCompletion message, CancellationToken cancellationToken = default) =>
        SendAsync(CompletionQueue, BinaryData.FromObjectAsJson(message, Json), cancellationToken);

    private async Task SendAsync(QueueClient queue, BinaryData body, CancellationToken cancellationToken)
    {
        await EnsureCreatedAsync(queue, cancellationToken).ConfigureAwait(false);
        await queue.SendMessageAsync(body, cancellationToken: cancellationToken).ConfigureAwait(false);
    }

    private async Task EnsureCreatedAsync(QueueClient queue, CancellationToken cancellationToken)
    {
        await _lock.WaitAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            // Deployed accounts have both queues (infra/modules/storage.bicep); Azurite starts empty.
            if (_created.Add(queue.Name))
            {
                await queue.CreateIfNotExistsAsync(cancellationToken: cancellationToken).ConfigureAwait(false);
            }
        }
        catch
        {
            _created.Remove(queue.Name);
            throw;
        }
        finally
        {
            _lock.Release();
        }
    }
}

/// <summary><see cref="ITaskDispatcher"/> on the evaluation queue.</summary>
public sealed class QueueTaskDispatcher(TaskQueues queues) : ITaskDispatcher
{
    public Task SendAsync(QueuedTask message, CancellationToken cancellationToken = default) => queues.SendAsync(message, cancellationToken);
}

/// <summary>Queue clients of the app's storage account, with a connection string (Azurite) or the managed identity (Azure).</summary>
public static class StorageQueues
{
    /// <summary>
    /// A client for queue <paramref name="name"/>: with <paramref name="connectionString"/> when given, else the trace
    /// store's or a plain <c>AzureWebJobsStorage</c> connection string (Azurite locally), else <paramref name="serviceUri"/>,
    /// <c>AzureWebJobsStorage:queueServiceUri</c> or <c>SPECFN_QUEUE_STORAGE:serviceUri</c> (what the Bicep sets) with
    /// <see cref="DefaultAzureCredential"/> (the managed identity; <c>AzureWebJobsStorage:clientId</c> picks a user-assigned one).
    /// </summary>
    public static QueueClient Client(IConfiguration configuration, string name, string? connectionString = null, string? serviceUri = null)
    {
        ArgumentNullException.ThrowIfNull(configuration);
        var options = new QueueClientOptions { MessageEncoding = QueueMessageEncoding.Base64 };
        var connection = FirstSet(
            connectionString,
            configuration[$"{BlobTraceStoreOptions.SectionName}:ConnectionString"],
            configuration["AzureWebJobsStorage"]); // null when it is a section (accountName, credential), as in Azure
        if (connection is not null)
        {
            return new QueueClient(connection, name, options);
        }

        var uri = FirstSet(serviceUri, configuration["AzureWebJobsStorage:queueServiceUri"], configuration["SPECFN_QUEUE_STORAGE:serviceUri"])
            ?? throw new InvalidOperationException(
                $"queue '{name}' needs a storage account: set AzureWebJobsStorage (a connection string) or AzureWebJobsStorage__queueServiceUri / SPECFN_QUEUE_STORAGE__serviceUri");
        var credential = configuration["AzureWebJobsStorage:clientId"] is { Length: > 0 } clientId
            ? new DefaultAzureCredential(new DefaultAzureCredentialOptions { ManagedIdentityClientId = clientId })
            : new DefaultAzureCredential();
        return new QueueServiceClient(new Uri(uri), credential, options).GetQueueClient(name);
    }

    public static string? FirstSet(params string?[] values) => values.FirstOrDefault(v => !string.IsNullOrWhiteSpace(v));
}
