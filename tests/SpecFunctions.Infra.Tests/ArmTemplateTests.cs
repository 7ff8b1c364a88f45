using System.Text.Json.Nodes;
using System.Text.RegularExpressions;

namespace SpecFunctions.Infra.Tests;

[Collection(CompiledInfrastructureCollection.Name)]
public sealed partial class ArmTemplateTests(CompiledInfrastructure infra)
{
    private ArmTemplate Main => infra.Template;

    private JsonObject StorageAccount => Main.Module("storage").OfType("Microsoft.Storage/storageAccounts").Single();

    private JsonObject Site => Main.Module("functionApp").OfType("Microsoft.Web/sites").Single();

    private Dictionary<string, string> AppSettings =>
        Site["properties"]!["siteConfig"]!["appSettings"]!.AsArray()
            .ToDictionary(s => (string)s!["name"]!, s => s!["value"].AsText()!);

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
    }

    [Fact]
    public void FunctionApp_Kind_IsFunctionsOnContainerApps()
    {
        Assert.Equal("functionapp,linux,container,azurecontainerapps", (string?)Site["kind"]);
        Assert.Equal("[parameters('managedEnvironmentId')]", Site["properties"]!["managedEnvironmentId"]!.AsText());
        Assert.Contains("environment", Main.ModuleArgument("functionApp", "managedEnvironmentId"), StringComparison.OrdinalIgnoreCase);
        Assert.StartsWith("[format('DOCKER|{0}'", Site["properties"]!["siteConfig"]!["linuxFxVersion"]!.AsText(), StringComparison.Ordinal);
    }

    [Fact]
    public void FunctionApp_StorageSettings_AreIdentityBasedWithTheUserAssignedIdentity()
    {
        var settings = AppSettings;

        Assert.DoesNotContain("AzureWebJobsStorage", settings.Keys);
        Assert.Equal("[parameters('storageAccountName')]", settings["AzureWebJobsStorage__accountName"]);
        Assert.Equal("managedidentity", settings["AzureWebJobsStorage__credential"]);
        Assert.Equal("[parameters('identityClientId')]", settings["AzureWebJobsStorage__clientId"]);
        Assert.Equal("[parameters('storageBlobEndpoint')]", settings["SPECFN_TRACE_STORAGE__serviceUri"]);
        Assert.Equal("[parameters('identityClientId')]", settings["SPECFN_TRACE_STORAGE__clientId"]);
        Assert.Equal("[parameters('identityClientId')]", settings["AZURE_CLIENT_ID"]);
        // main binds the client ID to the identity module's output, not to some other value.
        Assert.Contains("'identity'", Main.ModuleArgument("functionApp", "identityClientId"), StringComparison.Ordinal);
        Assert.Contains("clientId", Main.ModuleArgument("functionApp", "identityClientId"), StringComparison.Ordinal);
        Assert.Equal("UserAssigned", (string?)Site["identity"]!["type"]);
    }

    [Fact]
    public void FunctionApp_AppSettings_CarryNoAccountKeyOrKeyedConnectionString()
    {
        var settingsText = string.Join("\n", AppSettings.Select(s => $"{s.Key}={s.Value}"));
        var functionModuleText = Main.Module("functionApp").Root.AsText();

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
    [InlineData("APPLICATIONINSIGHTS_CONNECTION_STRING", "ConnectionString")]
    [InlineData("SPECFN_TRACE_CONTAINER", "parameters('traceContainerName')")]
    [InlineData("SPECFN_DEVICE", "parameters('device')")]
    [InlineData("AUDIT_SCHEDULE", "parameters('auditSchedule')")]
    [InlineData("Models__Root", "parameters('modelsRoot')")]
    [InlineData("FAIRNESS_UNFAIRNESS_THRESHOLD", "parameters('fairnessUnfairnessThreshold')")]
    [InlineData("FAIRNESS_SPEEDUP_GAP_THRESHOLD", "parameters('fairnessSpeedupGapThreshold')")]
    [InlineData("MITIGATION_QUEUE", "parameters('mitigationQueueName')")]
    [InlineData("SPECFN_QUEUE_STORAGE__serviceUri", "parameters('storageQueueEndpoint')")]
    [InlineData("FUNCTIONS_WORKER_RUNTIME", "dotnet-isolated")]
    public void FunctionApp_AppSetting_IsWiredToItsSource(string name, string expectedFragment)
    {
        Assert.True(AppSettings.TryGetValue(name, out var value), $"App setting '{name}' is missing.");
        Assert.Contains(expectedFragment, value, StringComparison.Ordinal);
    }

    [Fact]
    public void FunctionApp_DeviceAndSchedule_DefaultToCudaAndTwoAm()
    {
        Assert.Equal("cuda", Main.ModuleArgument("functionApp", "device"));
        Assert.Equal("0 0 2 * * *", (string?)Main.Parameters["auditSchedule"]!["defaultValue"]);
    }

    [Fact]
    public void FunctionApp_ModelCatalog_DefaultsToTheFolderTheImageShipsTheDemoPairIn()
    {
        Assert.Equal("/home/site/models", (string?)Main.Parameters["modelsRoot"]!["defaultValue"]);
        Assert.Equal("[parameters('modelsRoot')]", Main.ModuleArgument("functionApp", "modelsRoot"));
    }

    [Fact]
    public void FunctionApp_RunsOnTheGpuWorkloadProfileOfTheEnvironment()
    {
        var environment = Main.Module("containerAppsEnvironment").OfType("Microsoft.App/managedEnvironments").Single();
        var profiles = environment["properties"]!["workloadProfiles"]!.AsArray().Select(p => p!.AsObject()).ToList();

        var gpuProfile = Assert.Single(profiles, p => (string?)p["workloadProfileType"] == "[parameters('gpuWorkloadProfileType')]");
        Assert.Contains(profiles, p => (string?)p["workloadProfileType"] == "Consumption");
        Assert.Equal("[parameters('gpuWorkloadProfileName')]", (string?)gpuProfile["name"]);
        Assert.Equal("[parameters('gpuWorkloadProfileType')]", Main.ModuleArgument("containerAppsEnvironment", "gpuWorkloadProfileType"));
        var allowed = Main.Parameters["gpuWorkloadProfileType"]!["allowedValues"]!.AsArray().Select(v => (string)v!).ToList();
        Assert.Equal(["Consumption-GPU-NC8as-T4", "Consumption-GPU-NC24-A100"], allowed);
        Assert.Equal("Consumption-GPU-NC8as-T4", (string?)Main.Parameters["gpuWorkloadProfileType"]!["defaultValue"]);
        // The site selects the same profile name the environment defines.
        Assert.Equal("[parameters('workloadProfileName')]", Site["properties"]!["workloadProfileName"]!.AsText());
        Assert.Equal(
            Main.ModuleArgument("containerAppsEnvironment", "gpuWorkloadProfileName"),
            Main.ModuleArgument("functionApp", "workloadProfileName"));
    }

    [Fact]
    public void FunctionApp_ResourcesAndScale_ComeFromParameters()
    {
        var properties = Site["properties"]!;
        var siteConfig = properties["siteConfig"]!;

        Assert.Equal("[json(parameters('cpu'))]", properties["resourceConfig"]!["cpu"]!.AsText());
        Assert.Equal("[parameters('memory')]", properties["resourceConfig"]!["memory"]!.AsText());
        Assert.Equal("[parameters('minReplicas')]", siteConfig["minimumElasticInstanceCount"]!.AsText());
        Assert.Equal("[parameters('maxReplicas')]", siteConfig["functionAppScaleLimit"]!.AsText());
        Assert.Equal("[parameters('minReplicas')]", Main.ModuleArgument("functionApp", "minReplicas"));
        Assert.Equal("[parameters('maxReplicas')]", Main.ModuleArgument("functionApp", "maxReplicas"));
        Assert.Equal(0, (int)Main.Parameters["minReplicas"]!["defaultValue"]!);
        Assert.Equal(0, (int)Main.Parameters["minReplicas"]!["minValue"]!);
    }

    [Fact]
    public void FunctionApp_PullsFromTheRegistryWithTheManagedIdentity()
    {
        var siteConfig = Site["properties"]!["siteConfig"]!;
        var registry = Main.Module("registry").OfType("Microsoft.ContainerRegistry/registries").Single();

        Assert.True((bool)siteConfig["acrUseManagedIdentityCreds"]!);
        Assert.Equal("[parameters('identityId')]", siteConfig["acrUserManagedIdentityID"]!.AsText());
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
            var expectedScope = roles.SequenceEqual([RoleDefinitions.AcrPull])
                ? "Microsoft.ContainerRegistry/registries"
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

        Assert.True(Main.SelfAndModules().Count() >= 8, "Expected main plus at least seven modules.");
        Assert.Empty(missing);
    }

    [Theory]
    [InlineData("API_BASE_URL", "defaultHostName")]
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
