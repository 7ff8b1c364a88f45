using System.Text.Json;
using System.Text.Json.Nodes;
using System.Text.RegularExpressions;

namespace SpecFunctions.Infra.Tests;

[Collection(CompiledInfrastructureCollection.Name)]
public sealed partial class ArmTemplateTests(CompiledInfrastructure infra)
{
    private ArmTemplate Main => infra.Template;

    private JsonObject StorageAccount => Main.Module("storage").OfType("Microsoft.Storage/storageAccounts").Single();

    /// <summary>The container app of the plane module (both planes use infra/modules/functionContainerApp.bicep).</summary>
    private JsonObject App(string plane) => Main.Module(plane).OfType("Microsoft.App/containerApps").Single();

    private JsonObject Container(string plane) => App(plane)["properties"]!["template"]!["containers"]!.AsArray().Single()!.AsObject();

    /// <summary>The common app settings of the module (the container's env minus the per-plane ones main passes in).</summary>
    private Dictionary<string, string> CommonSettings(string plane) =>
        Main.Module(plane).Variables["commonSettings"]!.AsArray().ToDictionary(s => (string)s!["name"]!, s => s!["value"].AsText()!);

    private Dictionary<string, string> RoleSettings(string plane) =>
        Main.ModuleDeployment(plane)["properties"]!["parameters"]!["roleSettings"]!["value"]!.AsArray()
            .ToDictionary(s => (string)s!["name"]!, s => s!["value"].AsText()!);

    private Dictionary<string, string> AppSettings => CommonSettings(Control);

    private const string Control = "controlPlane";
    private const string Evaluator = "evaluator";

    [Fact]
    public void StorageAccount_SecurityProperties_AllowOnlyEntraIdOverTls12()
    {
        var properties = StorageAccount["properties"]!;

        Assert.False((bool)properties["allowSharedKeyAccess"]!);
        Assert.Equal("TLS1_2", (string?)properties["minimumTlsVersion"]);
        Assert.False((bool)properties["allowBlobPublicAccess"]!);
        Assert.True((bool)properties["supportsHttpsTrafficOnly"]!);
    }

    [Fact]
    public void Storage_ContainerAndQueues_UseTheAppsNames()
    {
        var storage = Main.Module("storage");

        Assert.Equal("speculative-evals", (string?)Main.Parameters["traceContainerName"]!["defaultValue"]);
        Assert.Equal("mitigation-requests", (string?)Main.Parameters["mitigationQueueName"]!["defaultValue"]);
        Assert.Equal("[parameters('traceContainerName')]", Main.ModuleArgument("storage", "traceContainerName"));
        Assert.Equal("[parameters('mitigationQueueName')]", Main.ModuleArgument("storage", "mitigationQueueName"));
        Assert.Contains(storage.OfType("Microsoft.Storage/storageAccounts/blobServices/containers"),
            c => ((string)c["name"]!).Contains("parameters('traceContainerName')", StringComparison.Ordinal)
                 && (string?)c["properties"]!["publicAccess"] == "None");
        var queueNames = storage.OfType("Microsoft.Storage/storageAccounts/queueServices/queues")
            .Select(q => (string)q["name"]!).ToList();
        Assert.Contains(queueNames, n => n.Contains("parameters('mitigationQueueName')", StringComparison.Ordinal));
        Assert.Contains(queueNames, n => n.Contains("-control-", StringComparison.Ordinal));
        Assert.Contains(queueNames, n => n.Contains("-workitems", StringComparison.Ordinal));
        // The two task queues between the planes, with the names the app's queue triggers read.
        Assert.Contains(queueNames, n => n.Contains("parameters('evaluationQueueName')", StringComparison.Ordinal) && n.Contains("parameters('completionQueueName')", StringComparison.Ordinal));
        Assert.Equal("specfn-completions", (string?)storage.Parameters["completionQueueName"]!["defaultValue"]);
    }

    [Theory]
    [InlineData(Control)]
    [InlineData(Evaluator)]
    public void Plane_IsAFunctionsContainerAppInTheEnvironment(string plane)
    {
        var app = App(plane);

        Assert.Equal("Microsoft.App/containerApps", (string?)app["type"]);
        Assert.Equal("functionapp", (string?)app["kind"]);
        Assert.Equal("[parameters('managedEnvironmentId')]", app["properties"]!["managedEnvironmentId"]!.AsText());
        Assert.Contains("containerAppsEnvironment", Main.ModuleArgument(plane, "managedEnvironmentId"), StringComparison.Ordinal);
        Assert.Equal("[parameters('image')]", Container(plane)["image"]!.AsText());
        Assert.Empty(Main.SelfAndModules().SelectMany(m => m.Template.OfType("Microsoft.Web/sites")));
    }

    [Theory]
    [InlineData(Control)]
    [InlineData(Evaluator)]
    public void Plane_StorageSettings_AreIdentityBasedWithTheUserAssignedIdentity(string plane)
    {
        var settings = CommonSettings(plane);

        Assert.DoesNotContain("AzureWebJobsStorage", settings.Keys);
        Assert.Equal("[parameters('storageAccountName')]", settings["AzureWebJobsStorage__accountName"]);
        Assert.Equal("managedidentity", settings["AzureWebJobsStorage__credential"]);
        Assert.Equal("[parameters('identityClientId')]", settings["AzureWebJobsStorage__clientId"]);
        Assert.Equal("[parameters('storageBlobEndpoint')]", settings["SPECFN_TRACE_STORAGE__serviceUri"]);
        Assert.Equal("[parameters('identityClientId')]", settings["SPECFN_TRACE_STORAGE__clientId"]);
        Assert.Equal("[parameters('identityClientId')]", settings["AZURE_CLIENT_ID"]);
        var env = Container(plane)["env"].AsText()!;
        Assert.StartsWith("[concat(variables('commonSettings'), createArray(createObject('name', 'APPLICATIONINSIGHTS_CONNECTION_STRING', 'secretRef', variables('appInsightsSecretName')))", env, StringComparison.Ordinal);
        Assert.EndsWith("parameters('roleSettings'))]", env, StringComparison.Ordinal);
        // main binds the client ID to the identity module's output, not to some other value.
        Assert.Contains("'identity'", Main.ModuleArgument(plane, "identityClientId"), StringComparison.Ordinal);
        Assert.Contains("clientId", Main.ModuleArgument(plane, "identityClientId"), StringComparison.Ordinal);
        Assert.Equal("UserAssigned", (string?)App(plane)["identity"]!["type"]);
    }

    [Fact]
    public void Planes_RoleSettings_ControlDispatchesThroughTheQueue_EvaluatorLoadsOnlyTheQueueFunction()
    {
        var control = RoleSettings(Control);
        var evaluator = RoleSettings(Evaluator);

        Assert.Equal("Queue", control["Evaluation__Dispatch"]);
        Assert.Equal("true", control["AzureWebJobs.EvaluateQueuedTask.Disabled"]);
        Assert.Contains("dispatchTimeoutSeconds", control["Evaluation__DispatchTimeoutSeconds"], StringComparison.Ordinal);
        Assert.Equal(new Dictionary<string, string> { ["AzureFunctionsJobHost__functions__0"] = "EvaluateQueuedTask" }, evaluator);
        Assert.Equal("cpu", Main.ModuleArgument(Control, "device"));
        Assert.Equal("cuda", Main.ModuleArgument(Evaluator, "device"));
    }

    [Fact]
    public void Planes_Ingress_ControlPlanePublic_EvaluatorInternal()
    {
        Assert.Equal("True", Main.ModuleArgument(Control, "externalIngress"), ignoreCase: true);
        Assert.Equal("False", Main.ModuleArgument(Evaluator, "externalIngress"), ignoreCase: true);
        Assert.Contains("controlPlane", (string?)Main.Outputs["API_BASE_URL"]!["value"], StringComparison.Ordinal);

        // Both planes have an ingress (the evaluator's internal to the environment): platform-managed scaling of Functions
        // on Container Apps needs one, so a fallback to it would otherwise leave a min-0 evaluator at zero for good.
        foreach (var plane in new[] { Control, Evaluator })
        {
            var ingress = App(plane)["properties"]!["configuration"]!["ingress"]!;
            Assert.Equal(JsonValueKind.Object, ingress.GetValueKind());
            Assert.Equal("[parameters('externalIngress')]", ingress["external"].AsText());
            Assert.Equal(80, (int)ingress["targetPort"]!);
            Assert.False((bool)ingress["allowInsecure"]!);
        }
    }

    [Fact]
    public void Evaluator_ScalesFromZeroOnTheEvaluationQueue_ReadWithTheManagedIdentity()
    {
        var scale = App(Evaluator)["properties"]!["template"]!["scale"]!;
        Assert.Equal("[parameters('scaleRules')]", scale["rules"].AsText());
        Assert.Equal("[parameters('minReplicas')]", scale["minReplicas"].AsText());
        Assert.Equal("[parameters('maxReplicas')]", scale["maxReplicas"].AsText());

        var rules = Main.ModuleDeployment(Evaluator)["properties"]!["parameters"]!["scaleRules"]!["value"]!.AsArray();
        var queue = Assert.Single(rules)!["azureQueue"]!;
        Assert.Contains("outputs.evaluationQueueName", queue["queueName"].AsText(), StringComparison.Ordinal);
        Assert.Contains("'storage'", queue["accountName"].AsText(), StringComparison.Ordinal);
        Assert.Equal(1, (int)queue["queueLength"]!);
        // The scaler authenticates as the app's user-assigned identity: no connection string secret, no auth block.
        Assert.Contains("'identity'", queue["identity"].AsText(), StringComparison.Ordinal);
        Assert.Contains("outputs.id", queue["identity"].AsText(), StringComparison.Ordinal);
        Assert.Null(queue["auth"]);
        // The app's only secret is the Application Insights connection string: nothing of the storage account's.
        var secret = Assert.Single(App(Evaluator)["properties"]!["configuration"]!["secrets"]!.AsArray())!;
        Assert.Equal("appinsights-connection-string", (string?)Main.Module(Evaluator).Variables["appInsightsSecretName"]);
        Assert.Contains("Microsoft.Insights/components", secret["value"].AsText(), StringComparison.Ordinal);
        Assert.EndsWith(".ConnectionString]", secret["value"].AsText(), StringComparison.Ordinal);
        Assert.Equal("specfn-evaluations", (string?)Main.Module("storage").Parameters["evaluationQueueName"]!["defaultValue"]);
        Assert.Equal([], Main.ModuleDeployment(Control)["properties"]!["parameters"]!["scaleRules"]!["value"]!.AsArray().Select(r => r!.ToJsonString()));
    }

    [Fact]
    public void Replicas_ControlPlaneKeepsOne_EvaluatorScalesToZero()
    {
        Assert.Equal("[parameters('controlMinReplicas')]", Main.ModuleArgument(Control, "minReplicas"));
        Assert.Equal("[parameters('controlMaxReplicas')]", Main.ModuleArgument(Control, "maxReplicas"));
        Assert.Equal(1, (int)Main.Parameters["controlMinReplicas"]!["defaultValue"]!);
        Assert.Equal(1, (int)Main.Parameters["controlMinReplicas"]!["minValue"]!);
        Assert.Equal("[parameters('minReplicas')]", Main.ModuleArgument(Evaluator, "minReplicas"));
        Assert.Equal("[parameters('maxReplicas')]", Main.ModuleArgument(Evaluator, "maxReplicas"));
        Assert.Equal(0, (int)Main.Parameters["minReplicas"]!["defaultValue"]!);
        Assert.Equal(0, (int)Main.Parameters["minReplicas"]!["minValue"]!);
        Assert.True((int)Main.Parameters["maxReplicas"]!["defaultValue"]! >= 1);
    }

    [Fact]
    public void Planes_AppSettings_CarryNoAccountKeyOrKeyedConnectionString()
    {
        var settingsText = string.Join("\n", AppSettings.Concat(RoleSettings(Control)).Concat(RoleSettings(Evaluator)).Select(s => $"{s.Key}={s.Value}"))
            + Container(Control)["env"].AsText();
        var functionModuleText = Main.Module(Control).Root.AsText() + Main.Module(Evaluator).Root.AsText();

        Assert.DoesNotContain("AccountKey", settingsText, StringComparison.OrdinalIgnoreCase);
        Assert.DoesNotContain("SharedAccessSignature", settingsText, StringComparison.OrdinalIgnoreCase);
        Assert.DoesNotContain("listKeys", functionModuleText, StringComparison.OrdinalIgnoreCase);
        // No storage account key is read anywhere in the deployment.
        foreach (Match call in ListKeysCall().Matches(Main.Root.AsText()!))
        {
            Assert.DoesNotContain("Microsoft.Storage/storageAccounts", call.Value, StringComparison.OrdinalIgnoreCase);
        }
    }

    [Theory]
    [InlineData("SPECFN_TRACE_CONTAINER", "parameters('traceContainerName')")]
    [InlineData("SPECFN_DEVICE", "parameters('device')")]
    [InlineData("AUDIT_SCHEDULE", "parameters('auditSchedule')")]
    [InlineData("Models__Root", "parameters('modelsRoot')")]
    [InlineData("FAIRNESS_UNFAIRNESS_THRESHOLD", "parameters('fairnessUnfairnessThreshold')")]
    [InlineData("FAIRNESS_SPEEDUP_GAP_THRESHOLD", "parameters('fairnessSpeedupGapThreshold')")]
    [InlineData("MITIGATION_QUEUE", "parameters('mitigationQueueName')")]
    [InlineData("SPECFN_QUEUE_STORAGE__serviceUri", "parameters('storageQueueEndpoint')")]
    [InlineData("FUNCTIONS_WORKER_RUNTIME", "dotnet-isolated")]
    public void Planes_AppSetting_IsWiredToItsSource(string name, string expectedFragment)
    {
        Assert.True(AppSettings.TryGetValue(name, out var value), $"App setting '{name}' is missing.");
        Assert.Equal(AppSettings, CommonSettings(Evaluator));
        Assert.Contains(expectedFragment, value, StringComparison.Ordinal);
    }

    [Fact]
    public void Schedule_DefaultsToTwoAm()
    {
        Assert.Equal("0 0 2 * * *", (string?)Main.Parameters["auditSchedule"]!["defaultValue"]);
    }

    [Theory]
    [InlineData(Control)]
    [InlineData(Evaluator)]
    public void Plane_ModelCatalog_DefaultsToTheFolderTheImageShipsTheDemoPairIn(string plane)
    {
        Assert.Equal("/home/site/models", (string?)Main.Parameters["modelsRoot"]!["defaultValue"]);
        Assert.Equal("[parameters('modelsRoot')]", Main.ModuleArgument(plane, "modelsRoot"));
    }

    [Fact]
    public void GpuProfile_OnlyTheEvaluatorRunsOnIt_ControlPlaneOnConsumption()
    {
        var environment = Main.Module("containerAppsEnvironment").OfType("Microsoft.App/managedEnvironments").Single();
        var profiles = environment["properties"]!["workloadProfiles"].AsText()!;

        // The Consumption profile, then one per entry of the GPU list main passes (name and type from each entry).
        Assert.Equal("[concat(createArray(createObject('name', 'Consumption', 'workloadProfileType', 'Consumption')), " +
                     "map(parameters('gpuWorkloadProfiles'), lambda('profile', createObject('name', lambdaVariables('profile').name, " +
                     "'workloadProfileType', lambdaVariables('profile').type))))]", profiles);
        Assert.Equal("[variables('gpuWorkloadProfiles')]", Main.ModuleArgument("containerAppsEnvironment", "gpuWorkloadProfiles"));
        var allowed = Main.Parameters["gpuWorkloadProfileType"]!["allowedValues"]!.AsArray().Select(v => (string)v!).ToList();
        Assert.Equal(["Consumption-GPU-NC8as-T4", "Consumption-GPU-NC24-A100"], allowed);
        Assert.Equal("Consumption-GPU-NC8as-T4", (string?)Main.Parameters["gpuWorkloadProfileType"]!["defaultValue"]);
        Assert.Equal("[parameters('workloadProfileName')]", App(Evaluator)["properties"]!["workloadProfileName"]!.AsText());
        // The evaluator selects the name of the current GPU profile; the control plane does not.
        Assert.Equal("[variables('gpuWorkloadProfileName')]", Main.ModuleArgument(Evaluator, "workloadProfileName"));
        Assert.StartsWith("[concat(createArray(createObject('name', variables('gpuWorkloadProfileName'), 'type', parameters('gpuWorkloadProfileType')))",
            Main.Variables["gpuWorkloadProfiles"].AsText(), StringComparison.Ordinal);
        Assert.Equal("Consumption", Main.ModuleArgument(Control, "workloadProfileName"));
    }

    [Fact]
    public void GpuProfile_IsNamedAfterItsType_SoASwitchAddsAProfileAndMovesTheApp()
    {
        // name = type less the "Consumption-GPU-" prefix (the docs' NC8as-T4 / NC24-A100): a new type is a new profile,
        // never a retype of the profile the running evaluator uses.
        Assert.Equal("[replace(parameters('gpuWorkloadProfileType'), 'Consumption-GPU-', '')]", Main.Variables["gpuWorkloadProfileName"].AsText());
        var names = Main.Parameters["gpuWorkloadProfileType"]!["allowedValues"]!.AsArray()
            .Select(v => ((string)v!).Replace("Consumption-GPU-", "", StringComparison.Ordinal)).ToList();
        Assert.Equal(["NC8as-T4", "NC24-A100"], names);

        // During a switch the previous type's profile stays (under its own name) until the app has moved off it.
        var list = Main.Variables["gpuWorkloadProfiles"].AsText()!;
        Assert.Contains("if(or(empty(parameters('previousGpuWorkloadProfileType')), equals(parameters('previousGpuWorkloadProfileType'), parameters('gpuWorkloadProfileType'))), createArray(), " +
                        "createArray(createObject('name', replace(parameters('previousGpuWorkloadProfileType'), 'Consumption-GPU-', ''), 'type', parameters('previousGpuWorkloadProfileType'))))", list, StringComparison.Ordinal);
        Assert.Equal("", (string?)Main.Parameters["previousGpuWorkloadProfileType"]!["defaultValue"]);
        Assert.Equal(["", "Consumption-GPU-NC8as-T4", "Consumption-GPU-NC24-A100"],
            Main.Parameters["previousGpuWorkloadProfileType"]!["allowedValues"]!.AsArray().Select(v => (string)v!));
        Assert.Equal(2, (int)Main.Module("containerAppsEnvironment").Parameters["gpuWorkloadProfiles"]!["maxLength"]!);
    }

    [Theory]
    [InlineData(Control)]
    [InlineData(Evaluator)]
    public void Plane_OverridesThePlatformsScaleRules_OnTheApiVersionThatHasTheOverride(string plane)
    {
        var app = App(plane);
        var scale = app["properties"]!["template"]!["scale"]!;

        // kind functionapp without the override is platform-scaled and refuses rules of its own (FunctionAppCannotSetScaleRules).
        Assert.Equal("2026-03-02-preview", (string?)app["apiVersion"]);
        Assert.True((bool)scale["allowScalingRuleOverride"]!);
        Assert.Equal("[parameters('scaleRules')]", scale["rules"].AsText());
        Assert.Equal("[parameters('cooldownPeriodSeconds')]", scale["cooldownPeriod"].AsText());
        Assert.Equal("[parameters('pollingIntervalSeconds')]", scale["pollingInterval"].AsText());
        // The one suppression in the templates is this property, which Bicep's type data for the version lacks.
        var module = File.ReadAllText(Path.Combine(infra.InfraDirectory, "modules", "functionContainerApp.bicep"));
        Assert.Single(Regex.Matches(module, "#disable-next-line"));
        Assert.Matches(@"#disable-next-line BCP037\s*\n\s*allowScalingRuleOverride: true", module);
        Assert.DoesNotContain(Directory.EnumerateFiles(infra.InfraDirectory, "*.bicep", SearchOption.AllDirectories),
            f => !f.EndsWith("functionContainerApp.bicep", StringComparison.Ordinal) && File.ReadAllText(f).Contains("#disable", StringComparison.Ordinal));
    }

    [Fact]
    public void ControlPlane_NoRulesOfItsOwn_BaselineHttpAtOneReplica()
    {
        Assert.Equal("[]", Main.ModuleDeployment(Control)["properties"]!["parameters"]!["scaleRules"]!["value"].AsText());
        Assert.Equal(1, (int)Main.Parameters["controlMinReplicas"]!["defaultValue"]!);
        Assert.Equal(1, (int)Main.Parameters["controlMaxReplicas"]!["defaultValue"]!);
    }

    [Fact]
    public void Evaluator_ScaleIn_GivesAnEvaluationTheLongestGraceAndAnExplicitCooldown()
    {
        var template = App(Evaluator)["properties"]!["template"]!;

        Assert.Equal("[parameters('terminationGracePeriodSeconds')]", template["terminationGracePeriodSeconds"].AsText());
        Assert.Equal(600, (int)Main.Module(Evaluator).Parameters["terminationGracePeriodSeconds"]!["maxValue"]!);
        Assert.Equal("[parameters('evaluatorTerminationGracePeriodSeconds')]", Main.ModuleArgument(Evaluator, "terminationGracePeriodSeconds"));
        Assert.Equal(600, (int)Main.Parameters["evaluatorTerminationGracePeriodSeconds"]!["defaultValue"]!);
        Assert.Equal(600, (int)Main.Parameters["evaluatorTerminationGracePeriodSeconds"]!["maxValue"]!);
        Assert.Equal("[parameters('evaluatorCooldownSeconds')]", Main.ModuleArgument(Evaluator, "cooldownPeriodSeconds"));
        Assert.Equal(600, (int)Main.Parameters["evaluatorCooldownSeconds"]!["defaultValue"]!);
        // KEDA's default queue-length strategy: the rule sets queueLength only, no custom scaling strategy.
        var rule = Main.ModuleDeployment(Evaluator)["properties"]!["parameters"]!["scaleRules"]!["value"]!.AsArray().Single()!;
        Assert.Equal(["name", "azureQueue"], rule.AsObject().Select(p => p.Key));
        Assert.Equal(["accountName", "queueName", "queueLength", "identity"], rule["azureQueue"]!.AsObject().Select(p => p.Key));
    }

    [Fact]
    public void Planes_HaveTheirOwnFunctionsHostIds_InTheSharedStorageAccount()
    {
        Assert.Equal("[parameters('hostId')]", CommonSettings(Control)["AzureFunctionsWebHost__hostid"]);
        Assert.Equal("[format('ctl-{0}', variables('resourceToken'))]", Main.ModuleArgument(Control, "hostId"));
        Assert.Equal("[format('gpu-{0}', variables('resourceToken'))]", Main.ModuleArgument(Evaluator, "hostId"));
        Assert.Equal(32, (int)Main.Module(Control).Parameters["hostId"]!["maxLength"]!);
        // uniqueString gives 13 characters: "ctl-" + 13 stays within the host's 32.
        Assert.StartsWith("[toLower(uniqueString(", Main.Variables["resourceToken"].AsText(), StringComparison.Ordinal);
    }

    [Fact]
    public void Telemetry_GoesToApplicationInsightsWithTheIdentitysEntraToken()
    {
        var settings = CommonSettings(Evaluator);
        var component = Main.Module("monitoring").OfType("Microsoft.Insights/components").Single();
        var rbac = Main.Module("rbac");

        Assert.Equal("[format('Authorization=AAD;ClientId={0}', parameters('identityClientId'))]", settings["APPLICATIONINSIGHTS_AUTHENTICATION_STRING"]);
        Assert.True((bool)component["properties"]!["DisableLocalAuth"]!);
        var publisher = Assert.Single(rbac.OfType("Microsoft.Authorization/roleAssignments"),
            a => RoleDefinitions.Resolve(a, rbac.Variables).SequenceEqual([RoleDefinitions.MonitoringMetricsPublisher]));
        Assert.Contains("Microsoft.Insights/components", (string?)publisher["scope"], StringComparison.Ordinal);
        Assert.Contains("parameters('appIdentityName')", (string?)publisher["properties"]!["principalId"], StringComparison.Ordinal);
        Assert.Equal(Main.ModuleArgument("monitoring", "applicationInsightsName"), Main.ModuleArgument("rbac", "applicationInsightsName"));
    }

    [Fact]
    public void Registry_StatesTheArmAudienceTokenPolicy()
    {
        var registry = Main.Module("registry").OfType("Microsoft.ContainerRegistry/registries").Single();

        Assert.Equal("enabled", (string?)registry["properties"]!["policies"]!["azureADAuthenticationAsArmPolicy"]!["status"]);
    }

    [Theory]
    [InlineData(Control, "controlCpu", "controlMemory")]
    [InlineData(Evaluator, "functionCpu", "functionMemory")]
    public void Plane_Resources_ComeFromParameters(string plane, string cpu, string memory)
    {
        var resources = Container(plane)["resources"]!;

        Assert.Equal("[json(parameters('cpu'))]", resources["cpu"].AsText());
        Assert.Equal("[parameters('memory')]", resources["memory"].AsText());
        Assert.Equal($"[parameters('{cpu}')]", Main.ModuleArgument(plane, "cpu"));
        Assert.Equal($"[parameters('{memory}')]", Main.ModuleArgument(plane, "memory"));
    }

    [Theory]
    [InlineData(Control)]
    [InlineData(Evaluator)]
    public void Plane_PullsFromTheRegistryWithTheManagedIdentity(string plane)
    {
        var registries = App(plane)["properties"]!["configuration"]!["registries"]!.AsArray();
        var registry = Main.Module("registry").OfType("Microsoft.ContainerRegistry/registries").Single();

        var entry = Assert.Single(registries)!;
        Assert.Equal("[parameters('registryLoginServer')]", entry["server"].AsText());
        Assert.Equal("[parameters('identityId')]", entry["identity"].AsText());
        Assert.Null(entry["passwordSecretRef"]);
        Assert.False((bool)registry["properties"]!["adminUserEnabled"]!);
    }

    [Fact]
    public void RoleAssignments_AppIdentity_GetsExactlyTheStorageDataRolesAndAcrPull()
    {
        var rbac = Main.Module("rbac");
        var appAssignments = rbac.OfType("Microsoft.Authorization/roleAssignments")
            .Where(a => ((string?)a["properties"]!["principalId"])?.Contains("parameters('appIdentityName')", StringComparison.Ordinal) == true)
            .ToList();

        var granted = appAssignments.SelectMany(a => RoleDefinitions.Resolve(a, rbac.Variables)).Order().ToList();

        string[] expected =
        [
            RoleDefinitions.StorageBlobDataOwner,
            RoleDefinitions.StorageQueueDataContributor,
            RoleDefinitions.StorageTableDataContributor,
            RoleDefinitions.AcrPull,
            RoleDefinitions.MonitoringMetricsPublisher,
        ];
        Assert.Equal(expected.Order(), granted);
        Assert.All(appAssignments, a => Assert.Equal("ServicePrincipal", (string?)a["properties"]!["principalType"]));
        Assert.All(appAssignments, a => Assert.Null(a["condition"]));
    }

    [Fact]
    public void RoleAssignments_AreScopedToTheStorageAccountAndRegistry()
    {
        var rbac = Main.Module("rbac");
        foreach (var assignment in rbac.OfType("Microsoft.Authorization/roleAssignments"))
        {
            var scope = (string?)assignment["scope"] ?? "";
            var roles = RoleDefinitions.Resolve(assignment, rbac.Variables);
            var expectedScope = roles.SequenceEqual([RoleDefinitions.AcrPull]) ? "Microsoft.ContainerRegistry/registries"
                : roles.SequenceEqual([RoleDefinitions.MonitoringMetricsPublisher]) ? "Microsoft.Insights/components"
                : "Microsoft.Storage/storageAccounts";
            Assert.Contains(expectedScope, scope, StringComparison.Ordinal);
        }

        Assert.Equal(Main.ModuleArgument("identity", "name"), Main.ModuleArgument("rbac", "appIdentityName"));
        Assert.Equal(Main.ModuleArgument("storage", "name"), Main.ModuleArgument("rbac", "storageAccountName"));
        Assert.Equal(Main.ModuleArgument("registry", "name"), Main.ModuleArgument("rbac", "registryName"));
    }

    [Fact]
    public void Parameters_EveryTemplateAndModule_DescribesEachParameter()
    {
        var missing = new List<string>();
        foreach (var (path, template) in Main.SelfAndModules())
        {
            foreach (var (name, parameter) in template.Parameters)
            {
                var description = (string?)parameter?["metadata"]?["description"];
                if (string.IsNullOrWhiteSpace(description))
                {
                    missing.Add($"{path}: {name}");
                }
            }
        }

        Assert.True(Main.SelfAndModules().Count() >= 9, "Expected main plus at least eight module deployments.");
        Assert.Empty(missing);
    }

    [Theory]
    [InlineData("API_BASE_URL", "defaultHostName")]
    [InlineData("EVALUATOR_APP_NAME", "'evaluator'")]
    [InlineData("FUNCTION_APP_HOSTNAME", "defaultHostName")]
    [InlineData("AZURE_STORAGE_ACCOUNT_NAME", "'storage'")]
    [InlineData("AZURE_IDENTITY_CLIENT_ID", "clientId")]
    [InlineData("AZURE_IDENTITY_PRINCIPAL_ID", "principalId")]
    [InlineData("AZURE_CONTAINER_REGISTRY_ENDPOINT", "loginServer")]
    public void Outputs_Main_ExposesDeploymentFacts(string output, string expectedFragment)
    {
        Assert.True(Main.Outputs.ContainsKey(output), $"Output '{output}' is missing.");
        Assert.Contains(expectedFragment, (string?)Main.Outputs[output]!["value"], StringComparison.Ordinal);
    }

    [GeneratedRegex(@"listKeys\([^\]]*")]
    private static partial Regex ListKeysCall();
}
