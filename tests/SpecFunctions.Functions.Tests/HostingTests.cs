using Azure.Monitor.OpenTelemetry.Exporter;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Options;
using SpecFunctions.Core.Evaluation;
using SpecFunctions.Core.Storage;
using SpecFunctions.Functions.Audit;
using SpecFunctions.Functions.Hosting;
using SpecFunctions.Functions.Http;
using SpecFunctions.Orchestration;
using SpecFunctions.Storage;
using SpecFunctions.Core.Models;
using SpecFunctions.Onnx;

namespace SpecFunctions.Functions.Tests;

public class HostingTests
{
    private static IConfiguration Config(params (string Key, string? Value)[] values) =>
        new ConfigurationBuilder().AddInMemoryCollection(values.Select(v => new KeyValuePair<string, string?>(v.Key, v.Value))).Build();

    [Theory]
    [InlineData("InstrumentationKey=00000000-0000-0000-0000-000000000000", "http://collector:4317", TelemetryExporter.AzureMonitor)]
    [InlineData(null, "http://collector:4317", TelemetryExporter.Otlp)]
    [InlineData("  ", "http://collector:4317", TelemetryExporter.Otlp)]
    [InlineData(null, null, TelemetryExporter.Console)]
    public void SelectExporter_Settings_PicksInOrder(string? appInsights, string? otlp, TelemetryExporter expected)
    {
        var configuration = Config(("APPLICATIONINSIGHTS_CONNECTION_STRING", appInsights), ("OTEL_EXPORTER_OTLP_ENDPOINT", otlp));

        Assert.Equal(expected, TelemetryRegistration.SelectExporter(configuration));
    }

    [Theory]
    [InlineData("APPLICATIONINSIGHTS_CONNECTION_STRING", "InstrumentationKey=00000000-0000-0000-0000-000000000000;IngestionEndpoint=https://localhost/")]
    [InlineData("OTEL_EXPORTER_OTLP_ENDPOINT", "http://localhost:4317")]
    [InlineData("UNRELATED", "x")]
    public void AddSpecFunctionsTelemetry_EachExporter_ProvidersBuild(string key, string value)
    {
        var configuration = Config((key, value));
        var services = new ServiceCollection();
        services.AddLogging();
        services.AddSpecFunctionsTelemetry(configuration);
        using var provider = services.BuildServiceProvider();

        Assert.NotNull(provider.GetRequiredService<OpenTelemetry.Metrics.MeterProvider>());
        Assert.NotNull(provider.GetRequiredService<OpenTelemetry.Trace.TracerProvider>());
    }

    [Theory]
    [InlineData(null, null)]
    [InlineData("  ", null)]
    [InlineData("Authorization=AAD;ClientId=00000000-0000-0000-0000-000000000001", typeof(Azure.Identity.ManagedIdentityCredential))]
    [InlineData("ClientId=00000000-0000-0000-0000-000000000001; authorization = aad", typeof(Azure.Identity.ManagedIdentityCredential))]
    [InlineData("Authorization=AAD", typeof(Azure.Identity.ManagedIdentityCredential))]
    public void AzureMonitorCredential_HostFormat_GivesAManagedIdentityOrNone(string? setting, Type? expected)
    {
        Assert.Equal(expected, TelemetryRegistration.AzureMonitorCredential(setting)?.GetType());
    }

    [Theory]
    [InlineData("ClientId=00000000-0000-0000-0000-000000000001")]
    [InlineData("Authorization=Key")]
    public void AzureMonitorCredential_WithoutAad_IsRefusedNamingTheSetting(string setting)
    {
        var error = Assert.Throws<InvalidOperationException>(() => TelemetryRegistration.AzureMonitorCredential(setting));

        Assert.Contains("APPLICATIONINSIGHTS_AUTHENTICATION_STRING", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void AddSpecFunctionsTelemetry_EntraAuthenticationString_ProvidersBuild()
    {
        var configuration = Config(
            ("APPLICATIONINSIGHTS_CONNECTION_STRING", "InstrumentationKey=00000000-0000-0000-0000-000000000000;IngestionEndpoint=https://localhost/"),
            ("APPLICATIONINSIGHTS_AUTHENTICATION_STRING", "Authorization=AAD;ClientId=00000000-0000-0000-0000-000000000001"));
        var services = new ServiceCollection();
        services.AddLogging();
        services.AddSpecFunctionsTelemetry(configuration);
        using var provider = services.BuildServiceProvider();

        Assert.IsType<Azure.Identity.ManagedIdentityCredential>(
            provider.GetRequiredService<IOptionsMonitor<AzureMonitorExporterOptions>>().Get(Options.DefaultName).Credential);
    }

    private static ServiceProvider Build(IConfiguration configuration)
    {
        var services = new ServiceCollection();
        services.AddSingleton(configuration);
        services.AddLogging();
        services.AddSpecFunctionsStorage(configuration);
        services.AddSpecFunctionsEvaluationPlanes(configuration);
        services.AddSpecFunctionsApi();
        services.AddTransient<EvaluationsApi>();
        services.AddTransient<NightlyAudit>();
        services.AddTransient<AuditSuitesApi>();
        services.AddTransient<MitigationApi>();
        services.AddTransient<Durable.EvaluationActivities>();
        services.AddTransient<Durable.MitigationActivities>();
        return services.BuildServiceProvider(new ServiceProviderOptions { ValidateOnBuild = true, ValidateScopes = true });
    }

    [Fact]
    public void Registrations_LocalSettings_EveryFunctionClassResolves()
    {
        using var provider = Build(Config(
            ("AzureWebJobsStorage", "UseDevelopmentStorage=true"),
            ("Models:Aliases:demo-verifier", "/models/v"),
            ("Models:Aliases:demo-drafter", "/models/d"),
            ("Evaluation:Limits:MaxTasks", "8"),
            ("Audit:WorstSpeedupDrop", "0.1")));

        StartupValidation(provider)();
        Assert.NotNull(provider.GetRequiredService<EvaluationsApi>());
        Assert.NotNull(provider.GetRequiredService<NightlyAudit>());
        Assert.NotNull(provider.GetRequiredService<AuditSuitesApi>());
        Assert.NotNull(provider.GetRequiredService<MitigationApi>());
        Assert.NotNull(provider.GetRequiredService<Durable.EvaluationActivities>());
        Assert.NotNull(provider.GetRequiredService<Durable.MitigationActivities>());
        Assert.Equal("UseDevelopmentStorage=true", provider.GetRequiredService<IOptions<BlobTraceStoreOptions>>().Value.ConnectionString);
        Assert.Equal(8, provider.GetRequiredService<EvaluationRequestParser>().Limits.MaxTasks);
        Assert.Equal("speculative-evals", provider.GetRequiredService<Azure.Storage.Blobs.BlobContainerClient>().Name);
        Assert.IsType<SpecFunctions.Storage.BlobObjectStore>(provider.GetRequiredService<IObjectStore>());
        Assert.IsType<TraceStore>(provider.GetRequiredService<ITraceStore>());
        Assert.Equal(0.1, provider.GetRequiredService<IOptions<Core.Reporting.RegressionThresholds>>().Value.WorstSpeedupDrop);
        var catalog = provider.GetRequiredService<IModelCatalog>();
        Assert.True(catalog.IsKnown("demo-verifier"));
        Assert.False(catalog.IsKnown("demo-verifier-2"));
    }

    [Fact]
    public void Registrations_InfraSettingNames_ServiceUriAndContainer()
    {
        using var provider = Build(Config(
            ("AzureWebJobsStorage:accountName", "specfnstore"),
            ("SPECFN_TRACE_STORAGE:serviceUri", "https://specfnstore.blob.core.windows.net"),
            ("SPECFN_TRACE_CONTAINER", "traces")));

        var options = provider.GetRequiredService<IOptions<BlobTraceStoreOptions>>().Value;

        Assert.Null(options.ConnectionString);
        Assert.Equal(new Uri("https://specfnstore.blob.core.windows.net"), options.ServiceUri);
        Assert.Equal("traces", options.ContainerName);
        Assert.Equal("traces", provider.GetRequiredService<Azure.Storage.Blobs.BlobContainerClient>().Name);
    }

    [Fact]
    public void Registrations_NoStorageSettingAtAll_StartupValidationNamesSetting()
    {
        using var provider = Build(Config());

        var ex = Assert.Throws<OptionsValidationException>(() => provider.GetRequiredService<IOptions<BlobTraceStoreOptions>>().Value);

        Assert.Contains("TraceStore:ConnectionString or TraceStore:ServiceUri must be set", ex.Message);
    }

    [Fact]
    public void Registrations_ThresholdOutOfRange_FailsValidationNamingIt()
    {
        using var provider = Build(Config(("AzureWebJobsStorage", "UseDevelopmentStorage=true"), ("Audit:WorstSpeedupDrop", "2")));

        var ex = Assert.Throws<OptionsValidationException>(() => provider.GetRequiredService<IOptions<Core.Reporting.RegressionThresholds>>().Value);

        Assert.Contains("WorstSpeedupDrop", ex.Message);
    }

    [Fact]
    public void Registrations_ParserUsesCatalog_UnknownModelRejected()
    {
        using var provider = Build(Config(("AzureWebJobsStorage", "UseDevelopmentStorage=true"), ("Models:Aliases:only-model", "/m")));
        var parser = provider.GetRequiredService<EvaluationRequestParser>();

        var result = parser.Parse("""{"suite":{"name":"s","tasks":[{"id":"a","prompts":["p"]}]},"verifier":"only-model","drafter":"demo-drafter"}"""u8.ToArray());

        Assert.Equal(["drafter"], result.Errors.Select(e => e.Field));
    }

    [Fact]
    public void Registrations_FairnessThresholdSettings_AreTheDefaultsOfEverySubmission()
    {
        // The names infra/modules/functionApp.bicep sets; a submission's own values still win field by field.
        using var provider = Build(Config(
            ("AzureWebJobsStorage", "UseDevelopmentStorage=true"), ("Models:Aliases:demo-verifier", "/v"), ("Models:Aliases:demo-drafter", "/d"),
            ("FAIRNESS_UNFAIRNESS_THRESHOLD", "0.2"), ("FAIRNESS_SPEEDUP_GAP_THRESHOLD", "0.4")));
        var parser = provider.GetRequiredService<EvaluationRequestParser>();
        const string Head = """{"suite":{"name":"s","tasks":[{"id":"a","prompts":["p"]}]},"verifier":"demo-verifier","drafter":"demo-drafter" """;

        var omitted = parser.Parse(System.Text.Encoding.UTF8.GetBytes(Head + "}")).Value!.Mitigation;
        var partial = parser.Parse(System.Text.Encoding.UTF8.GetBytes(Head + ""","mitigation":{"speedupGapThreshold":0.1,"autoMitigate":true}}""")).Value!.Mitigation;

        Assert.Equal((0.2, 0.4, false), (omitted.UnfairnessThreshold, omitted.SpeedupGapThreshold, omitted.AutoMitigate));
        Assert.Equal((0.2, 0.1, true), (partial.UnfairnessThreshold, partial.SpeedupGapThreshold, partial.AutoMitigate));
    }

    // What the host runs before anything starts (Host.StartAsync): every ValidateOnStart options type is built and validated.
    private static Action StartupValidation(ServiceProvider provider) => () => provider.GetRequiredService<IStartupValidator>().Validate();

    [Theory]
    [InlineData("FAIRNESS_UNFAIRNESS_THRESHOLD", "-0.1")]
    [InlineData("FAIRNESS_SPEEDUP_GAP_THRESHOLD", "0,25")]
    [InlineData("Mitigation:UnfairnessThreshold", "NaN")]
    public void MitigationDefaults_BadThreshold_StopsStartupNamingTheSetting(string name, string value)
    {
        using var provider = Build(Config(("AzureWebJobsStorage", "UseDevelopmentStorage=true"), (name, value)));

        var error = Assert.Throws<OptionsValidationException>(StartupValidation(provider));

        Assert.Contains(name.StartsWith("Mitigation:", StringComparison.Ordinal) ? name : $"({name})", error.Message, StringComparison.Ordinal);
        Assert.Contains($"'{value}'", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void MitigationDefaults_SectionAndInfraName_SectionWinsAndTheInfraNameIsNotRead()
    {
        using var provider = Build(Config(
            ("AzureWebJobsStorage", "UseDevelopmentStorage=true"),
            ("Mitigation:UnfairnessThreshold", "0.3"), ("FAIRNESS_UNFAIRNESS_THRESHOLD", "not a number"), ("FAIRNESS_SPEEDUP_GAP_THRESHOLD", "0.6")));

        StartupValidation(provider)();
        var policy = provider.GetRequiredService<IOptions<MitigationDefaultsOptions>>().Value.ToPolicy();

        Assert.Equal((0.3, 0.6), (policy.UnfairnessThreshold, policy.SpeedupGapThreshold));
        Assert.Equal(new MitigationPolicy { UnfairnessThreshold = 0.3, SpeedupGapThreshold = 0.6 }, policy);
    }

    [Theory]
    [InlineData("Evaluation:Limits:MaxTasks", "0", "Evaluation:Limits:MaxTasks must be at least 1")]
    [InlineData("Evaluation:Limits:MaxReferencedBytes", "-5", "Evaluation:Limits:MaxReferencedBytes must be at least 1")]
    [InlineData("Onnx:DeviceId", "-1", "Onnx:DeviceId is -1: device id must be >= 0")]
    [InlineData("Onnx:IntraOpThreads", "-2", "Onnx:IntraOpThreads is -2: intra-op threads must be >= 0")]
    [InlineData("Evaluation:ChunkSize", "0", "Evaluation options must be >= 1")]
    [InlineData("Evaluation:DispatchTimeoutSeconds", "0", "Evaluation:DispatchTimeoutSeconds must be a number > 0")]
    [InlineData("Models:Aliases:demo-verifier", " ", "Models:Aliases:demo-verifier must name a model folder")]
    [InlineData("Audit:WorstSpeedupDrop", "2", "WorstSpeedupDrop")]
    [InlineData("Estimate:MaxReplicas", "0", "Estimate options must be >= 0")]
    public void Startup_BadSetting_StopsTheHostNamingTheSetting(string name, string value, string expected)
    {
        using var provider = Build(Config(("AzureWebJobsStorage", "UseDevelopmentStorage=true"), (name, value)));

        var error = Assert.Throws<OptionsValidationException>(StartupValidation(provider));

        Assert.Contains(expected, error.Message, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData(null, null, OnnxDevice.Cpu)]
    [InlineData("Cuda", null, OnnxDevice.Cuda)]
    [InlineData("Cpu", "cuda", OnnxDevice.Cuda)]
    [InlineData("Cuda", "CPU", OnnxDevice.Cpu)]
    [InlineData("Cuda", "tpu", OnnxDevice.Cuda)]
    public void OnnxOptions_DeviceSetting_OverridesTheSection(string? section, string? setting, OnnxDevice expected)
    {
        using var provider = Build(Config(
            ("AzureWebJobsStorage", "UseDevelopmentStorage=true"), ("Onnx:Device", section), ("Onnx:IntraOpThreads", "3"), (EvaluationRegistration.DeviceSetting, setting)));

        StartupValidation(provider)();
        var onnx = provider.GetRequiredService<OnnxModelOptions>();

        Assert.Equal((expected, 3), (onnx.Device, onnx.IntraOpThreads));
    }
}
