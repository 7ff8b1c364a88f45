metadata description = 'One plane of SpecFunctions: the Functions app image as a container app of kind functionapp (Azure Functions on Azure Container Apps), on a given workload profile, with identity-only storage, identity-based ACR pull, Entra-authenticated Application Insights and its own scale rules (the platform\'s trigger-derived rules overridden): the evaluator\'s queue rule read with the managed identity, none for the control plane.'

@description('Azure region for the app (same as the managed environment).')
param location string

@description('Tags applied to the app. main.bicep adds azd-service-name so azd finds the app to deploy to.')
param tags object

@description('Name of the container app; also the host name prefix when it has ingress.')
param name string

@description('True for the control plane (the HTTP API, public ingress); false for the evaluator, whose ingress is internal to the environment: nothing calls it (work arrives through its queue), but Functions on Container Apps expects an ingress, and the platform\'s own scaling needs one should the override ever be off.')
param externalIngress bool

@description('Functions host ID (AzureFunctionsWebHost__hostid): lower-case letters, digits and dashes, at most 32 characters. Each plane has its own because both share one storage account, where the host keeps its locks and timer schedule under this ID (the default, derived from the machine name, is neither stable nor unique on Container Apps).')
@minLength(1)
@maxLength(32)
param hostId string

@description('App settings of this plane on top of the common ones ({name, value} pairs): the control plane\'s dispatch mode, the evaluator\'s function list.')
param roleSettings array

@description('KEDA scale rules (Container Apps scale.rules), which replace the rules the platform would derive from the app\'s triggers (allowScalingRuleOverride): the evaluator\'s azureQueue rule on the evaluation queue; none for the control plane (only the platform\'s baseline HTTP scaler, with min = max replicas).')
param scaleRules array

@description('Seconds KEDA waits after the last scale-rule activity before it scales the app to zero (scale.cooldownPeriod); it does not apply to scale-in above zero.')
@minValue(0)
param cooldownPeriodSeconds int

@description('Seconds between two reads of the scale rules\' sources (scale.pollingInterval).')
@minValue(1)
param pollingIntervalSeconds int

@description('Seconds a replica gets between SIGTERM and SIGKILL when it is removed (template.terminationGracePeriodSeconds, at most 600): an evaluation in flight on a replica that scale-in picked finishes in that time or is put back on the queue by the control plane.')
@minValue(0)
@maxValue(600)
param terminationGracePeriodSeconds int

@description('Resource ID of the Container Apps managed environment.')
param managedEnvironmentId string

@description('Workload profile the replicas run on: Consumption (CPU) for the control plane, the GPU profile for the evaluator.')
param workloadProfileName string

@description('vCPU per replica, as a decimal string (e.g. \'1.0\'). A T4 serverless GPU replica offers up to 8 vCPU, an A100 one up to 24.')
param cpu string

@description('Memory per replica with unit (e.g. \'2Gi\'). A T4 serverless GPU replica offers up to 56 GiB, an A100 one up to 220 GiB.')
param memory string

@description('Fewest replicas kept running (control plane: at least 1, Durable on Azure Storage does not scale from zero; evaluator: 0).')
@minValue(0)
@maxValue(20)
param minReplicas int

@description('Most replicas; each evaluator replica holds one GPU.')
@minValue(1)
@maxValue(100)
param maxReplicas int

@description('Full image reference, e.g. crxyz.azurecr.io/specfunctions/api:20261128.1.')
param image string

@description('Login server of the private registry, e.g. crxyz.azurecr.io.')
param registryLoginServer string

@description('Resource ID of the app\'s user-assigned managed identity (image pull, storage, the scale rule).')
param identityId string

@description('Client ID of the app\'s user-assigned managed identity.')
param identityClientId string

@description('Name of the storage account used by the Functions host (AzureWebJobsStorage), Durable Functions and the two task queues.')
param storageAccountName string

@description('Blob endpoint of the storage account; traces and reports are written there.')
param storageBlobEndpoint string

@description('Queue endpoint of the same account (task queues, mitigation queue), e.g. https://<account>.queue.core.windows.net/.')
param storageQueueEndpoint string

@description('Blob container for traces and reports.')
param traceContainerName string

@description('Queue for mitigation requests.')
param mitigationQueueName string

@description('Durable Functions task hub name; overrides host.json so it matches the queues created with the storage account.')
param durableTaskHubName string

@description('Name of the Application Insights component that receives telemetry.')
param applicationInsightsName string

@description('NCRONTAB schedule (six fields, UTC) of the NightlyAudit timer.')
param auditSchedule string

@description('Model catalog folder (Models__Root): subfolders holding a specfn-model.json are models named by folder.')
param modelsRoot string

@description('Default mitigation.unfairnessThreshold of every submission and audit suite: unfairness U (variance of per-task cross-entropy, nats squared) above which the mitigation decision is mitigate.')
param fairnessUnfairnessThreshold string

@description('Default mitigation.speedupGapThreshold: speed-up gap 1 - min/max over tasks above which the mitigation decision is mitigate.')
param fairnessSpeedupGapThreshold string

@description('Execution device the evaluation code asks ONNX Runtime for (cuda or cpu). With cuda and no usable GPU, ONNX Runtime falls back to the CPU and the app logs why.')
@allowed([
  'cuda'
  'cpu'
])
param device string

resource applicationInsights 'Microsoft.Insights/components@2020-02-02' existing = {
  name: applicationInsightsName
}

// Identity-based connections only: no account key or keyed connection string anywhere. The __clientId entries select
// the user-assigned identity.
var commonSettings = [
  {
    name: 'FUNCTIONS_WORKER_RUNTIME'
    value: 'dotnet-isolated'
  }
  {
    name: 'AzureFunctionsWebHost__hostid'
    value: hostId
  }
  {
    // Telemetry is sent with the identity's Entra token (the component has local authentication off); the host reads
    // this setting, and so does the worker's Azure Monitor exporter (TelemetryRegistration.AzureMonitorCredential).
    name: 'APPLICATIONINSIGHTS_AUTHENTICATION_STRING'
    value: 'Authorization=AAD;ClientId=${identityClientId}'
  }
  {
    name: 'AzureWebJobsStorage__accountName'
    value: storageAccountName
  }
  {
    name: 'AzureWebJobsStorage__credential'
    value: 'managedidentity'
  }
  {
    name: 'AzureWebJobsStorage__clientId'
    value: identityClientId
  }
  {
    name: 'AzureFunctionsJobHost__extensions__durableTask__hubName'
    value: durableTaskHubName
  }
  {
    name: 'SPECFN_TRACE_STORAGE__serviceUri'
    value: storageBlobEndpoint
  }
  {
    name: 'SPECFN_TRACE_STORAGE__credential'
    value: 'managedidentity'
  }
  {
    name: 'SPECFN_TRACE_STORAGE__clientId'
    value: identityClientId
  }
  {
    // DefaultAzureCredential (used by the trace store when no credential is passed) picks the
    // user-assigned identity only when told its client ID.
    name: 'AZURE_CLIENT_ID'
    value: identityClientId
  }
  {
    name: 'SPECFN_TRACE_CONTAINER'
    value: traceContainerName
  }
  {
    name: 'SPECFN_DEVICE'
    value: device
  }
  {
    name: 'AUDIT_SCHEDULE'
    value: auditSchedule
  }
  {
    name: 'Models__Root'
    value: modelsRoot
  }
  {
    name: 'FAIRNESS_UNFAIRNESS_THRESHOLD'
    value: fairnessUnfairnessThreshold
  }
  {
    name: 'FAIRNESS_SPEEDUP_GAP_THRESHOLD'
    value: fairnessSpeedupGapThreshold
  }
  {
    name: 'MITIGATION_QUEUE'
    value: mitigationQueueName
  }
  {
    name: 'SPECFN_QUEUE_STORAGE__serviceUri'
    value: storageQueueEndpoint
  }
]

var appInsightsSecretName = 'appinsights-connection-string'

// 2026-03-02-preview is the first API version with template.scale.allowScalingRuleOverride, without which a kind
// functionapp app runs in platform-managed scaling mode and rejects any rule of its own (FunctionAppCannotSetScaleRules).
// azure.yaml deploys with the same version (apiVersion per service), so azd's image update keeps the override.
resource app 'Microsoft.App/containerApps@2026-03-02-preview' = {
  name: name
  location: location
  tags: tags
  kind: 'functionapp'
  identity: {
    type: 'UserAssigned'
    userAssignedIdentities: {
      '${identityId}': {}
    }
  }
  properties: {
    managedEnvironmentId: managedEnvironmentId
    workloadProfileName: workloadProfileName
    configuration: {
      activeRevisionsMode: 'Single'
      // The API is the control plane's (public); the evaluator's ingress is internal to the environment.
      ingress: {
        external: externalIngress
        targetPort: 80
        transport: 'auto'
        allowInsecure: false
      }
      // The connection string names the component and its ingestion endpoint; kept a secret, not a plain setting.
      secrets: [
        {
          name: appInsightsSecretName
          value: applicationInsights.properties.ConnectionString
        }
      ]
      registries: [
        {
          server: registryLoginServer
          identity: identityId
        }
      ]
    }
    template: {
      terminationGracePeriodSeconds: terminationGracePeriodSeconds
      containers: [
        {
          name: 'functions'
          image: image
          resources: {
            cpu: json(cpu)
            memory: memory
          }
          // The connection string comes from the app's secret, so it stays out of commonSettings (a plain variable).
          env: concat(
            commonSettings,
            [
              {
                name: 'APPLICATIONINSIGHTS_CONNECTION_STRING'
                secretRef: appInsightsSecretName
              }
            ],
            roleSettings
          )
        }
      ]
      scale: {
        minReplicas: minReplicas
        maxReplicas: maxReplicas
        cooldownPeriod: cooldownPeriodSeconds
        pollingInterval: pollingIntervalSeconds
        // Documented for kind functionapp from API 2026-03-02-preview (learn.microsoft.com/azure/container-apps/
        // functions-scale-rule-override), but Bicep 0.49.2's type data for that version lacks it: BCP037 only.
        #disable-next-line BCP037
        allowScalingRuleOverride: true
        rules: scaleRules
      }
    }
  }
}

@description('Name of the container app.')
output name string = app.name

@description('Host name of the app\'s ingress, e.g. ca-xyz.<env domain> (the evaluator\'s is internal: ca-xyz.internal.<env domain>).')
output defaultHostName string = app.properties.configuration.ingress.fqdn
