metadata description = 'SpecFunctions: speculative-decoding fairness evaluations as an Azure Functions app on Azure Container Apps serverless GPUs, with identity-only storage access and Application Insights telemetry.'

targetScope = 'resourceGroup'

@description('azd environment name (AZURE_ENV_NAME); seeds resource names and the azd-env-name tag.')
@minLength(1)
@maxLength(64)
param environmentName string

@description('Azure region for every resource. Pick one that offers the chosen serverless GPU profile (e.g. westus3, australiaeast, swedencentral).')
param location string = resourceGroup().location

@description('Serverless GPU workload profile type the evaluation replicas run on.')
@allowed([
  'Consumption-GPU-NC8as-T4'
  'Consumption-GPU-NC24-A100'
])
param gpuWorkloadProfileType string = 'Consumption-GPU-NC8as-T4'

@description('vCPU per replica, as a decimal string. T4 replicas offer up to 8, A100 replicas up to 24.')
param functionCpu string = '8.0'

@description('Memory per replica with unit. T4 replicas offer up to 56Gi, A100 replicas up to 220Gi.')
param functionMemory string = '56Gi'

@description('Fewest replicas kept running; 0 scales the GPU to zero when idle (no charge, cold start on the next request).')
@minValue(0)
@maxValue(20)
param minReplicas int = 0

@description('Most replicas (each holds one GPU); bounded by the subscription\'s serverless GPU quota.')
@minValue(1)
@maxValue(100)
param maxReplicas int = 2

@description('Image to run (azd sets SERVICE_API_IMAGE_NAME after its first push). Empty: a public Functions sample image holds the place until the first deploy.')
param apiImageName string = ''

@description('NCRONTAB schedule (six fields, UTC) of the NightlyAudit timer.')
param auditSchedule string = '0 0 2 * * *'

@description('Default mitigation.unfairnessThreshold of every submission and audit suite: unfairness U (variance of per-task cross-entropy, nats squared) above which the mitigation decision is mitigate.')
param fairnessUnfairnessThreshold string = '0.05'

@description('Default mitigation.speedupGapThreshold: speed-up gap 1 - min/max over tasks above which the mitigation decision is mitigate.')
param fairnessSpeedupGapThreshold string = '0.25'

@description('Model catalog folder inside the container (app setting Models__Root): every subfolder with a specfn-model.json is a model named by its folder. The image ships the demo pair there (demo-verifier, demo-drafter); point this at a mounted share to serve other models.')
param modelsRoot string = '/home/site/models'

@description('Blob container for traces and reports.')
param traceContainerName string = 'speculative-evals'

@description('Queue for mitigation requests.')
param mitigationQueueName string = 'mitigation-requests'

@description('Durable Functions task hub name (letters and digits, starting with a letter).')
param durableTaskHubName string = 'specfnhub'

@description('Object ID of the deploying user or pipeline (azd passes AZURE_PRINCIPAL_ID); it gets Storage Blob Data Contributor to read reports. Empty: skipped.')
param deployerPrincipalId string = ''

@description('Principal type of deployerPrincipalId.')
@allowed([
  'User'
  'Group'
  'ServicePrincipal'
])
param deployerPrincipalType string = 'User'

@description('Container registry SKU.')
@allowed([
  'Basic'
  'Standard'
  'Premium'
])
param registrySku string = 'Basic'

var resourceToken = toLower(uniqueString(subscription().id, resourceGroup().id, environmentName, location))
var tags = {
  'azd-env-name': environmentName
  application: 'specfunctions'
}
// Names are fixed at compile time (not taken from module outputs) so What-If can predict every resource.
var names = {
  logAnalytics: 'log-${resourceToken}'
  applicationInsights: 'appi-${resourceToken}'
  storage: 'st${resourceToken}'
  identity: 'id-${resourceToken}'
  registry: 'cr${resourceToken}'
  environment: 'cae-${resourceToken}'
  functionApp: 'func-${resourceToken}'
}
var gpuWorkloadProfileName = 'gpu'
// Placeholder until the first image push; Microsoft's Functions-on-Container-Apps quickstart image.
var placeholderImage = 'mcr.microsoft.com/azure-functions/dotnet8-quickstart-demo:1.0'

module monitoring 'modules/monitoring.bicep' = {
  name: 'monitoring'
  params: {
    location: location
    tags: tags
    logAnalyticsName: names.logAnalytics
    applicationInsightsName: names.applicationInsights
  }
}

module storage 'modules/storage.bicep' = {
  name: 'storage'
  params: {
    location: location
    tags: tags
    name: names.storage
    traceContainerName: traceContainerName
    mitigationQueueName: mitigationQueueName
    durableTaskHubName: durableTaskHubName
  }
}

module identity 'modules/identity.bicep' = {
  name: 'identity'
  params: {
    location: location
    tags: tags
    name: names.identity
  }
}

module registry 'modules/registry.bicep' = {
  name: 'registry'
  params: {
    location: location
    tags: tags
    name: names.registry
    sku: registrySku
  }
}

module rbac 'modules/rbac.bicep' = {
  name: 'rbac'
  params: {
    storageAccountName: names.storage
    registryName: names.registry
    appIdentityName: names.identity
    deployerPrincipalId: deployerPrincipalId
    deployerPrincipalType: deployerPrincipalType
  }
  dependsOn: [
    storage
    registry
    identity
  ]
}

module environment 'modules/containerAppsEnvironment.bicep' = {
  name: 'containerAppsEnvironment'
  params: {
    location: location
    tags: tags
    name: names.environment
    logAnalyticsWorkspaceName: names.logAnalytics
    gpuWorkloadProfileName: gpuWorkloadProfileName
    gpuWorkloadProfileType: gpuWorkloadProfileType
  }
  dependsOn: [
    monitoring
  ]
}

module functionApp 'modules/functionApp.bicep' = {
  name: 'functionApp'
  params: {
    location: location
    tags: union(tags, { 'azd-service-name': 'api' })
    name: names.functionApp
    managedEnvironmentId: environment.outputs.id
    workloadProfileName: gpuWorkloadProfileName
    cpu: functionCpu
    memory: functionMemory
    minReplicas: minReplicas
    maxReplicas: maxReplicas
    image: empty(apiImageName) ? placeholderImage : apiImageName
    registryLoginServer: registry.outputs.loginServer
    identityId: identity.outputs.id
    identityClientId: identity.outputs.clientId
    storageAccountName: storage.outputs.name
    storageBlobEndpoint: storage.outputs.blobEndpoint
    storageQueueEndpoint: storage.outputs.queueEndpoint
    traceContainerName: storage.outputs.traceContainerName
    mitigationQueueName: storage.outputs.mitigationQueueName
    durableTaskHubName: durableTaskHubName
    applicationInsightsName: names.applicationInsights
    auditSchedule: auditSchedule
    modelsRoot: modelsRoot
    fairnessUnfairnessThreshold: fairnessUnfairnessThreshold
    fairnessSpeedupGapThreshold: fairnessSpeedupGapThreshold
    device: 'cuda'
  }
  // The roles must exist before the first start: the host needs storage and the image pull needs AcrPull.
  dependsOn: [
    monitoring
    rbac
  ]
}

@description('Base URL of the API, e.g. https://func-xyz.<env domain>/api.')
output API_BASE_URL string = 'https://${functionApp.outputs.defaultHostName}/api'

@description('Default host name of the function app.')
output FUNCTION_APP_HOSTNAME string = functionApp.outputs.defaultHostName

@description('Name of the function app (for az functionapp commands).')
output FUNCTION_APP_NAME string = functionApp.outputs.name

@description('Name of the storage account holding traces and reports.')
output AZURE_STORAGE_ACCOUNT_NAME string = storage.outputs.name

@description('Blob container holding traces and reports.')
output SPECFN_TRACE_CONTAINER string = storage.outputs.traceContainerName

@description('Client ID of the app\'s managed identity.')
output AZURE_IDENTITY_CLIENT_ID string = identity.outputs.clientId

@description('Principal (object) ID of the app\'s managed identity.')
output AZURE_IDENTITY_PRINCIPAL_ID string = identity.outputs.principalId

@description('Login server of the container registry; azd pushes the api image there.')
output AZURE_CONTAINER_REGISTRY_ENDPOINT string = registry.outputs.loginServer

@description('Name of the container registry (for az acr build).')
output AZURE_CONTAINER_REGISTRY_NAME string = registry.outputs.name

@description('Name of the Container Apps managed environment.')
output AZURE_CONTAINER_APPS_ENVIRONMENT_NAME string = environment.outputs.name
