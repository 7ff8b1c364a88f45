using System.Text.Json;
using Azure.Storage.Queues;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using SpecFunctions.Core.Mitigation;
using SpecFunctions.Core.Storage;
using SpecFunctions.Functions.Hosting;
using SpecFunctions.Functions.Mitigation;
using SpecFunctions.Orchestration;
using SpecFunctions.Storage.Tests;

namespace SpecFunctions.Functions.Tests;

/// <summary>The external-trainer hand-over through a real Azurite queue.</summary>
public sealed class QueueMitigationPlanSenderTests : IAsyncLifetime
{
    private readonly AzuriteFixture _azurite = new() { WithQueue = true };

    public Task InitializeAsync() => _azurite.InitializeAsync();

    public Task DisposeAsync() => _azurite.DisposeAsync();

    [Fact]
    public async Task SendAsync_TwoPlans_ArriveAsBase64JsonEnvelopesInOrder_AndTheQueueIsCreated()
    {
        var sender = QueueMitigationPlanSender.FromConfiguration(Configuration(new()
        {
            ["MITIGATION_QUEUE"] = "mitigation-requests",
            ["AzureWebJobsStorage"] = _azurite.ConnectionString,
        }))!;

        await sender.SendAsync(Plan("run-a"), CancellationToken.None);
        await sender.SendAsync(Plan("run-b"), CancellationToken.None);

        var raw = new QueueClient(_azurite.ConnectionString, "mitigation-requests");
        var messages = (await raw.ReceiveMessagesAsync(maxMessages: 10)).Value;
        Assert.Equal(2, messages.Length);
        var envelopes = messages.Select(m => JsonSerializer.Deserialize<MitigationPlanMessage>(
            Convert.FromBase64String(m.Body.ToString()), new JsonSerializerOptions(JsonSerializerDefaults.Web))!).ToList();
        Assert.Equal(["run-a", "run-b"], envelopes.Select(e => e.RunId));
        var first = envelopes[0];
        Assert.Equal("run-a-mitigation", first.InstanceId);
        Assert.Equal("runs/run-a/mitigation/plan.json", first.PlanLocation);
        Assert.Equal("s-cdf", first.Strategy);
        Assert.Equal(new ModelIdentity { Name = "llama-drafter", Sha256 = new string('a', 64), Family = "llama" }, first.BaseDrafter);
        Assert.Equal("llama-verifier", first.Verifier.Name);
        // The envelope leaves the prompts in the stored plan: it stays small whatever the suite.
        Assert.DoesNotContain("trainingPrompts", System.Text.Encoding.UTF8.GetString(Convert.FromBase64String(messages[0].Body.ToString())), StringComparison.Ordinal);
    }

    [Fact]
    public void FromConfiguration_NoQueueName_IsNull_QueueWithoutAccount_NamesTheSettings_BicepNames_AreRead()
    {
        Assert.Null(QueueMitigationPlanSender.FromConfiguration(Configuration(new() { ["AzureWebJobsStorage"] = _azurite.ConnectionString })));

        var missing = Assert.Throws<InvalidOperationException>(() => QueueMitigationPlanSender.FromConfiguration(Configuration(new()
        {
            ["Mitigation:QueueName"] = "plans",
            ["AzureWebJobsStorage:accountName"] = "specfnstore",
        })));
        Assert.Contains("Mitigation:QueueServiceUri", missing.Message, StringComparison.Ordinal);

        // What infra/modules/functionApp.bicep sets: identity-based storage, no connection string anywhere.
        var azure = QueueMitigationPlanSender.FromConfiguration(Configuration(new()
        {
            ["MITIGATION_QUEUE"] = "mitigation-requests",
            ["SPECFN_QUEUE_STORAGE:serviceUri"] = "https://specfnstore.queue.core.windows.net/",
            ["AzureWebJobsStorage:accountName"] = "specfnstore",
        }))!;
        Assert.Equal(new Uri("https://specfnstore.queue.core.windows.net/mitigation-requests"), azure.QueueUri);
    }

    [Fact]
    public void Host_RegistersTheQueueSender_OnlyWhenAQueueIsConfigured()
    {
        IMitigationPlanSender Resolve(Dictionary<string, string?> settings)
        {
            var services = new ServiceCollection();
            services.AddSpecFunctionsEvaluationPlanes(Configuration(settings));
            return services.BuildServiceProvider().GetRequiredService<IMitigationPlanSender>();
        }

        Assert.IsType<UnconfiguredPlanSender>(Resolve([]));
        Assert.IsType<QueueMitigationPlanSender>(Resolve(new() { ["MITIGATION_QUEUE"] = "q", ["AzureWebJobsStorage"] = _azurite.ConnectionString }));
    }

    private static IConfiguration Configuration(Dictionary<string, string?> settings) =>
        new ConfigurationBuilder().AddInMemoryCollection(settings).Build();

    private static MitigationPlan Plan(string runId) => new()
    {
        RunId = runId,
        InstanceId = runId + "-mitigation",
        Strategy = "s-cdf",
        WeightRule = WeightRule.ShiftByMinimum,
        Tasks = new Dictionary<string, TaskWeight> { ["en"] = new(2.4, 0), ["zh"] = new(4.5, 2.1) },
        BaseDrafter = new ModelIdentity { Name = "llama-drafter", Sha256 = new string('a', 64), Family = "llama" },
        Verifier = new ModelIdentity { Name = "llama-verifier", Sha256 = new string('b', 64), Family = "llama" },
        PlanLocation = $"runs/{runId}/mitigation/plan.json",
        TrainingPrompts = new Dictionary<string, IReadOnlyList<string>> { ["en"] = ["a prompt"], ["zh"] = ["另一个"] },
    };
}
