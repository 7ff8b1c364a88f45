using Microsoft.DurableTask;
using Microsoft.DurableTask.Client;
using Microsoft.DurableTask.Testing;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using SpecFunctions.Core.Evaluation;
using SpecFunctions.Core.Storage;
using SpecFunctions.Onnx;
using SpecFunctions.Orchestration;
using SpecFunctions.Core.Mitigation.Training;
using SpecFunctions.Core.Models;
using SpecFunctions.Demo.Hosting;

namespace SpecFunctions.Cli;

/// <summary>
/// Runs the same orchestrators and activities as the Functions app on Durable Task's in-process, in-memory engine
/// (Microsoft.DurableTask.InProcessTestHost) inside a generic host: no Azure account, no Functions host.
/// </summary>
internal sealed class EmbeddedEngine : IAsyncDisposable
{
    private readonly IHost _host;

    private EmbeddedEngine(IHost host) => _host = host;

    public DurableTaskClient Client => _host.Services.GetRequiredService<DurableTaskClient>();

    public IServiceProvider Services => _host.Services;

    public static async Task<EmbeddedEngine> StartAsync(
        ITraceStore store, IModelCatalog catalog, IEvaluationObserver observer, OnnxModelOptions? onnx = null,
        Action<EvaluationOptions>? configure = null, LogLevel logLevel = LogLevel.Warning, CancellationToken cancellationToken = default,
        Action<IServiceCollection>? configureServices = null)
    {
        var builder = Host.CreateApplicationBuilder(new HostApplicationBuilderSettings { DisableDefaults = true });
        builder.Logging.ClearProviders();
        // Logs go to stderr: stdout carries the report (one JSON document with --json).
        builder.Logging.AddSimpleConsole(o => o.SingleLine = true).SetMinimumLevel(logLevel);
        builder.Services.Configure<Microsoft.Extensions.Logging.Console.ConsoleLoggerOptions>(o => o.LogToStandardErrorThreshold = LogLevel.Trace);
        // The host's and Durable's own logs repeat a failure the CLI reports as one line (with its stack under --verbose).
        builder.Logging.AddFilter("Microsoft", LogLevel.None);
        builder.Services.AddSingleton(store);
        builder.Services.AddSingleton(catalog);
        builder.Services.AddSingleton(onnx ?? OnnxModelOptions.Default);
        builder.Services.AddSingleton(observer);
        builder.Services.AddSpecFunctionsEvaluation(configure);

        // The demo families (MLP and transformer) train in process; others go to an external trainer (not configured in the CLI).
        builder.Services.AddSingleton<IDrafterTrainer, DemoDrafterTrainer>();
        builder.Services.AddSingleton<IDrafterTrainer, SpecFunctions.Training.TransformerDrafterTrainer>();
        configureServices?.Invoke(builder.Services);
        builder.Services.AddInMemoryDurableTask(registry => registry.AddSpecFunctionsTasks());
        var host = builder.Build();
        await host.StartAsync(cancellationToken).ConfigureAwait(false);
        return new EmbeddedEngine(host);
    }

    /// <summary>Starts (or joins, for an existing run id) an evaluation and waits for it, reporting the custom status.</summary>
    public Task<EvaluationOutcome> EvaluateAsync(EvaluationRequest request, Action<EvaluationProgress>? onProgress = null, CancellationToken cancellationToken = default) =>
        RunAsync<EvaluationOutcome>(DurableNames.EvaluateSuite, request, request.RunId, onProgress, cancellationToken);

    /// <summary>Starts (or joins) orchestration <paramref name="name"/> with instance id <paramref name="instanceId"/> and waits for its output.</summary>
    public async Task<T> RunAsync<T>(string name, object input, string instanceId, Action<EvaluationProgress>? onProgress = null, CancellationToken cancellationToken = default)
    {
        var client = Client;
        var existing = await client.GetInstanceAsync(instanceId, getInputsAndOutputs: false, cancellationToken).ConfigureAwait(false);
        if (existing is null)
        {
            await client.ScheduleNewOrchestrationInstanceAsync(name, input, new StartOrchestrationOptions(instanceId), cancellationToken).ConfigureAwait(false);
        }

        while (true)
        {
            var state = await client.GetInstanceAsync(instanceId, getInputsAndOutputs: true, cancellationToken).ConfigureAwait(false);
            if (state is not null)
            {
                if (state.SerializedCustomStatus is not null)
                {
                    onProgress?.Invoke(state.ReadCustomStatusAs<EvaluationProgress>()!);
                }

                if (state.IsCompleted)
                {
                    if (state.RuntimeStatus != OrchestrationRuntimeStatus.Completed)
                    {
                        throw new EvaluationFailedException(name, instanceId, state.RuntimeStatus, state.FailureDetails);
                    }

                    return state.ReadOutputAs<T>()!;
                }
            }

            await Task.Delay(200, cancellationToken).ConfigureAwait(false);
        }
    }

    public async ValueTask DisposeAsync()
    {
        await _host.StopAsync().ConfigureAwait(false);
        _host.Dispose();
    }
}

/// <summary>
/// An orchestration ended without completing. <see cref="Exception.Message"/> is the innermost failure's message (the
/// activity's own exception, e.g. a model that does not load); <see cref="Details"/> has the whole chain.
/// </summary>
internal sealed class EvaluationFailedException(string name, string instanceId, OrchestrationRuntimeStatus status, TaskFailureDetails? failure)
    : Exception(Innermost(failure)?.ErrorMessage ?? $"{name} {instanceId} ended {status}")
{
    public string Details { get; } = Describe(name, instanceId, status, failure);

    public override string ToString() => $"{base.ToString()}{Environment.NewLine}{Details}";

    /// <summary>The first failure below the Durable wrappers ("Task 'X' failed with an unhandled exception: …"): the activity's own exception.</summary>
    private static TaskFailureDetails? Innermost(TaskFailureDetails? failure)
    {
        while (failure?.InnerFailure is not null && failure.ErrorType.EndsWith("TaskFailedException", StringComparison.Ordinal))
        {
            failure = failure.InnerFailure;
        }

        return failure;
    }

    private static string Describe(string name, string instanceId, OrchestrationRuntimeStatus status, TaskFailureDetails? failure)
    {
        var text = new System.Text.StringBuilder($"{name} {instanceId} ended {status}");
        for (var f = failure; f is not null; f = f.InnerFailure)
        {
            text.AppendLine().Append("  ").Append(f.ErrorType).Append(": ").Append(f.ErrorMessage);
            if (f.StackTrace is { Length: > 0 } stack)
            {
                text.AppendLine().Append(stack);
            }
        }

        return text.ToString();
    }
}
