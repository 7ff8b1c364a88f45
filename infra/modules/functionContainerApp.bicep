metadata description = 'One plane of SpecFunctions: the Functions app image as a container app of kind functionapp (Azure Functions on Azure Container Apps), on a given workload profile, with identity-only storage, identity-based ACR pull and, for the evaluator, a queue scale rule read with the managed identity.'

@description('Azure region for the app (same as the managed environment).')
param location string

@description('Tags applied to the app. main.bicep adds azd-service-name so azd finds the app to deploy to.')
param tags object

@description('Name of the container app; also the host name prefix when it has ingress.')
param name string

@description('True for the control plane (the HTTP API, public ingress); false for the evaluator, reached only through its queue.')
param externalIngress bool

@description('App settings of this plane on top of the common ones ({name, value} pairs): the control plane\'s dispatch mode, the evaluator\'s function list.')
param roleSettings array

@description('KEDA scale rules (Container Apps scale.rules): the evaluator\'s azureQueue rule on the evaluation queue; none for the control plane.')
param scaleRules array

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

resource app 'Microsoft.App/containerApps@2025-07-01' = {
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
      // The API is the control plane's; the evaluator is reached only through its queue.
      ingress: !externalIngress
        ? null
        : {
            external: true
            targetPort: 80
            transport: 'auto'
            allowInsecure: false
          }
      registries: [
        {
          server: registryLoginServer
          identity: identityId
        }
      ]
    }
    template: {
      containers: [
        {
          name: 'functions'
          image: image
          resources: {
            cpu: json(cpu)
            memory: memory
          }
          // The connection string is read at deployment time, so it stays out of commonSettings (kept a plain variable).
          env: concat(
            commonSettings,
            [
              {
                name: 'APPLICATIONINSIGHTS_CONNECTION_STRING'
                value: applicationInsights.properties.ConnectionString
              }
            ],
            roleSettings
          )
        }
      ]
      scale: {
        minReplicas: minReplicas
        maxReplicas: maxReplicas
        rules: scaleRules
      }
    }
  }
}

@description('Name of the container app.')
output name string = app.name

@description('Host name of the app\'s ingress, e.g. ca-xyz.<env domain> (empty for the evaluator, which has none).')
output defaultHostName string = externalIngress ? app.properties.configuration.ingress.fqdn : ''
