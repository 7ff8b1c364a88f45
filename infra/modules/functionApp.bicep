metadata description = 'The SpecFunctions Functions app, hosted on Azure Container Apps (kind functionapp,linux,container,azurecontainerapps) on the serverless GPU workload profile.'

@description('Azure region for the app (same as the managed environment).')
param location string

@description('Tags applied to the app. main.bicep adds azd-service-name so azd finds the app to deploy to.')
param tags object

@description('Name of the function app; also the host name prefix.')
param name string

@description('Resource ID of the Container Apps managed environment.')
param managedEnvironmentId string

@description('Workload profile the replicas run on: the GPU profile\'s name in the environment.')
param workloadProfileName string

@description('vCPU per replica, as a decimal string (e.g. \'8.0\'). A T4 serverless GPU replica offers up to 8 vCPU, an A100 one up to 24.')
param cpu string

@description('Memory per replica with unit (e.g. \'56Gi\'). A T4 serverless GPU replica offers up to 56 GiB, an A100 one up to 220 GiB.')
param memory string

@description('Fewest replicas kept running. 0 lets the GPU scale to zero between runs (no charge while idle, a cold start on the next request).')
@minValue(0)
@maxValue(20)
param minReplicas int

@description('Most replicas the app scales out to; each one holds a GPU.')
@minValue(1)
@maxValue(100)
param maxReplicas int

@description('Full image reference, e.g. crxyz.azurecr.io/specfunctions/api:20261128.1.')
param image string

@description('Login server of the private registry, e.g. crxyz.azurecr.io.')
param registryLoginServer string

@description('Resource ID of the app\'s user-assigned managed identity.')
param identityId string

@description('Client ID of the app\'s user-assigned managed identity.')
param identityClientId string

@description('Name of the storage account used by the Functions host (AzureWebJobsStorage) and Durable Functions.')
param storageAccountName string

@description('Blob endpoint of the storage account; traces and reports are written there.')
param storageBlobEndpoint string

@description('Queue endpoint of the same account (the mitigation queue), e.g. https://<account>.queue.core.windows.net/.')
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

resource functionApp 'Microsoft.Web/sites@2024-11-01' = {
  name: name
  location: location
  tags: tags
  kind: 'functionapp,linux,container,azurecontainerapps'
  identity: {
    type: 'UserAssigned'
    userAssignedIdentities: {
      '${identityId}': {}
    }
  }
  properties: {
    managedEnvironmentId: managedEnvironmentId
    workloadProfileName: workloadProfileName
    resourceConfig: {
      cpu: json(cpu)
      memory: memory
    }
    siteConfig: {
      linuxFxVersion: 'DOCKER|${image}'
      // Functions on Container Apps takes the identity's resource ID here (App Service takes the client ID).
      acrUseManagedIdentityCreds: true
      acrUserManagedIdentityID: identityId
      minimumElasticInstanceCount: minReplicas
      functionAppScaleLimit: maxReplicas
      // Identity-based connections only: no account key or keyed connection string anywhere.
      // The __clientId entries select the user-assigned identity.
      appSettings: [
        {
          name: 'FUNCTIONS_EXTENSION_VERSION'
          value: '~4'
        }
        {
          name: 'FUNCTIONS_WORKER_RUNTIME'
          value: 'dotnet-isolated'
        }
        {
          name: 'DOCKER_REGISTRY_SERVER_URL'
          value: 'https://${registryLoginServer}'
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
        {
          name: 'APPLICATIONINSIGHTS_CONNECTION_STRING'
          value: applicationInsights.properties.ConnectionString
        }
      ]
    }
  }
}

@description('Name of the function app.')
output name string = functionApp.name

@description('Default host name of the app, e.g. func-xyz.<env domain>.')
output defaultHostName string = functionApp.properties.defaultHostName
