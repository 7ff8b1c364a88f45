using System.Text.Json;
using System.Text.Json.Serialization;
using Azure.Identity;
using Azure.Storage.Queues;
using Microsoft.Extensions.Configuration;
using SpecFunctions.Core.Storage;
using SpecFunctions.Functions.Evaluator;
using SpecFunctions.Orchestration;
using SpecFunctions.Storage;

namespace SpecFunctions.Functions.Mitigation;

/// <summary>
/// Hands a mitigation plan to an external trainer through an Azure Storage queue (<c>MITIGATION_QUEUE</c>, which
/// <c>infra/</c> creates). The message is a small JSON envelope, base64-encoded as Azure Functions queue triggers expect:
/// the run, the orchestration instance to raise <c>DrafterReady</c> on, and where the full plan (weights, training
/// prompts, hyperparameters) is stored, so it stays far below the 64 KiB message limit whatever the suite's size.
/// </summary>
public sealed class QueueMitigationPlanSender(QueueClient queue) : IMitigationPlanSender
{
    private static readonly JsonSerializerOptions Json = new(JsonSerializerDefaults.Web) { DefaultIgnoreCondition = JsonIgnoreCondition.WhenWritingNull };
    private readonly SemaphoreSlim _created = new(1, 1);
    private bool _exists;

    /// <summary>The queue the plans go to.</summary>
    public Uri QueueUri => queue.Uri;

    public async Task SendAsync(MitigationPlan plan, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(plan);
        await EnsureQueueAsync(cancellationToken).ConfigureAwait(false);
        var message = new MitigationPlanMessage(plan.RunId, plan.InstanceId, plan.PlanLocation, plan.Strategy, plan.BaseDrafter, plan.Verifier);
        await queue.SendMessageAsync(BinaryData.FromObjectAsJson(message, Json), cancellationToken: cancellationToken).ConfigureAwait(false);
    }

    /// <summary>
    /// A sender from configuration, or null when no queue is named (<c>Mitigation:QueueName</c> or Bicep's
    /// <c>MITIGATION_QUEUE</c>). The account: <c>Mitigation:ConnectionString</c>, else the trace store's or a plain
    /// <c>AzureWebJobsStorage</c> connection string (Azurite locally), else <c>Mitigation:QueueServiceUri</c> (Bicep:
    /// <c>SPECFN_QUEUE_STORAGE__serviceUri</c>) with <see cref="DefaultAzureCredential"/> (the managed identity).
    /// </summary>
    public static QueueMitigationPlanSender? FromConfiguration(IConfiguration configuration)
    {
        ArgumentNullException.ThrowIfNull(configuration);
        var name = FirstSet(configuration["Mitigation:QueueName"], configuration["MITIGATION_QUEUE"]);
        if (name is null)
        {
            return null;
        }

        var connection = FirstSet(configuration["Mitigation:ConnectionString"]);
        var serviceUri = FirstSet(configuration["Mitigation:QueueServiceUri"], configuration["SPECFN_QUEUE_STORAGE:serviceUri"]);
        try
        {
            return new QueueMitigationPlanSender(StorageQueues.Client(configuration, name, connection, serviceUri));
        }
        catch (InvalidOperationException)
        {
            throw new InvalidOperationException(
                $"mitigation queue '{name}' is set but no storage account is: set Mitigation:ConnectionString or Mitigation:QueueServiceUri (SPECFN_QUEUE_STORAGE__serviceUri)");
        }
    }

    private async Task EnsureQueueAsync(CancellationToken cancellationToken)
    {
        if (_exists)
        {
            return;
        }

        await _created.WaitAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            // Deployed accounts already have it (infra/modules/storage.bicep); Azurite starts empty.
            await queue.CreateIfNotExistsAsync(cancellationToken: cancellationToken).ConfigureAwait(false);
            _exists = true;
        }
        finally
        {
            _created.Release();
        }
    }

    private static string? FirstSet(params string?[] values) => StorageQueues.FirstSet(values);
}

/// <summary>The queue message of <see cref="QueueMitigationPlanSender"/>: enough for a trainer to fetch the plan and answer.</summary>
/// <param name="PlanLocation">The plan's path in the trace store (the full <see cref="MitigationPlan"/> as JSON).</param>
public sealed record MitigationPlanMessage(
    string RunId, string InstanceId, string PlanLocation, string Strategy, ModelIdentity BaseDrafter, ModelIdentity Verifier);
