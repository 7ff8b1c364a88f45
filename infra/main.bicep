metadata description = 'SpecFunctions: speculative-decoding fairness evaluations as two Azure Functions apps on Azure Container Apps (kind functionapp) from one image: a control plane on the Consumption (CPU) profile, kept at one replica, and an evaluator plane on a serverless GPU profile that scales from zero on the evaluation queue; identity-only storage access and Application Insights telemetry.'

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

@description('During a switch of GPU type only: the type the evaluator ran on before. Its profile stays in the environment while the app moves to the new one (a profile in use cannot be removed or retyped); clear it and provision again to remove the old profile. Empty: none kept.')
@allowed([
  ''
  'Consumption-GPU-NC8as-T4'
  'Consumption-GPU-NC24-A100'
])
param previousGpuWorkloadProfileType string = ''

@description('vCPU per evaluator replica, as a decimal string. T4 replicas offer up to 8, A100 replicas up to 24.')
param functionCpu string = '8.0'

@description('Memory per evaluator replica with unit. T4 replicas offer up to 56Gi, A100 replicas up to 220Gi.')
param functionMemory string = '56Gi'

@description('Fewest evaluator (GPU) replicas kept running; 0 scales the GPU to zero when the evaluation queue is empty (no GPU charge, a cold start when tasks arrive).')
@minValue(0)
@maxValue(20)
param minReplicas int = 0

@description('Most evaluator replicas (each holds one GPU and evaluates one task at a time); bounded by the subscription\'s serverless GPU quota.')
@minValue(1)
@maxValue(100)
param maxReplicas int = 2

@description('Seconds an evaluator replica gets to finish its evaluation when scale-in removes it (SIGTERM to SIGKILL; Container Apps allows at most 600). An evaluation still running then is lost with the replica, and the control plane puts the task on the queue again after dispatchTimeoutSeconds.')
@minValue(30)
@maxValue(600)
param evaluatorTerminationGracePeriodSeconds int = 600

@description('Seconds the evaluator stays up after the evaluation queue was last non-empty before it scales to zero (KEDA cooldownPeriod): a GPU kept a little longer saves a cold start when the next task follows soon.')
@minValue(60)
@maxValue(3600)
param evaluatorCooldownSeconds int = 600

@description('vCPU per control-plane replica (Consumption profile), as a decimal string; fairness bootstraps and the demo family\'s s-CDF run here.')
param controlCpu string = '1.0'

@description('Memory per control-plane replica with unit (Consumption profile: 2Gi per vCPU).')
param controlMemory string = '2Gi'

@description('Control-plane replicas kept running. At least 1: Durable Functions on the Azure Storage backend does not scale from zero on Container Apps, and orchestrations left in its queues would wait for an HTTP request to wake a replica.')
@minValue(1)
@maxValue(5)
param controlMinReplicas int = 1

@description('Most control-plane replicas.')
@minValue(1)
@maxValue(10)
param controlMaxReplicas int = 1

@description('Image of the evaluator plane (azd sets SERVICE_EVALUATOR_IMAGE_NAME after its first push; the same Dockerfile as the control plane). Empty: the placeholder image.')
param evaluatorImageName string = ''

@description('Seconds the control plane waits for a task\'s completion before it puts the task on the evaluation queue again; cover a GPU cold start plus the longest task.')
@minValue(60)
param dispatchTimeoutSeconds int = 1800

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
  control: 'ca-ctl-${resourceToken}'
  evaluator: 'ca-gpu-${resourceToken}'
}
// A GPU profile is named after its type (Consumption-GPU-NC8as-T4 -> NC8as-T4), so a switch of type adds a profile
// and moves the evaluator to it instead of retyping the profile the running app uses.
var gpuWorkloadProfileName = replace(gpuWorkloadProfileType, 'Consumption-GPU-', '')
var gpuWorkloadProfiles = concat(
  [
    {
      name: gpuWorkloadProfileName
      type: gpuWorkloadProfileType
    }
  ],
  empty(previousGpuWorkloadProfileType) || previousGpuWorkloadProfileType == gpuWorkloadProfileType
    ? []
    : [
        {
          name: replace(previousGpuWorkloadProfileType, 'Consumption-GPU-', '')
          type: previousGpuWorkloadProfileType
        }
      ]
)
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
    applicationInsightsName: names.applicationInsights
    deployerPrincipalId: deployerPrincipalId
    deployerPrincipalType: deployerPrincipalType
  }
  dependsOn: [
    storage
    registry
    identity
    monitoring
  ]
}

module environment 'modules/containerAppsEnvironment.bicep' = {
  name: 'containerAppsEnvironment'
  params: {
    location: location
    tags: tags
    name: names.environment
    logAnalyticsWorkspaceName: names.logAnalytics
    gpuWorkloadProfiles: gpuWorkloadProfiles
  }
  dependsOn: [
    monitoring
  ]
}

// Two planes, one image. The control plane (HTTP API, nightly timer, orchestrations, fairness, mitigation decisions,
// the completion queue) runs on the CPU Consumption profile at one replica; the evaluator runs only EvaluateQueuedTask on
// the GPU profile and scales from zero on the length of the evaluation queue.
module controlPlane 'modules/functionContainerApp.bicep' = {
  name: 'controlPlane'
  params: {
    location: location
    tags: union(tags, { 'azd-service-name': 'api' })
    name: names.control
    externalIngress: true
    hostId: 'ctl-${resourceToken}'
    // Dispatch through the evaluation queue; never run the evaluator function here.
    roleSettings: [
      {
        name: 'Evaluation__Dispatch'
        value: 'Queue'
      }
      {
        name: 'Evaluation__DispatchTimeoutSeconds'
        value: string(dispatchTimeoutSeconds)
      }
      {
        name: 'AzureWebJobs.EvaluateQueuedTask.Disabled'
        value: 'true'
      }
    ]
    // No rules of its own and the platform's trigger-derived ones overridden: the baseline HTTP scaler only, pinned by
    // min = max = 1 (one replica runs the orchestrations, the timer and the completion queue).
    scaleRules: []
    cooldownPeriodSeconds: 300
    pollingIntervalSeconds: 30
    terminationGracePeriodSeconds: 60
    workloadProfileName: 'Consumption'
    cpu: controlCpu
    memory: controlMemory
    minReplicas: controlMinReplicas
    maxReplicas: controlMaxReplicas
    image: empty(apiImageName) ? placeholderImage : apiImageName
    device: 'cpu'
    managedEnvironmentId: environment.outputs.id
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
  }
  // The roles must exist before the first start: the host needs storage and the image pull needs AcrPull.
  dependsOn: [
    monitoring
    rbac
  ]
}

module evaluator 'modules/functionContainerApp.bicep' = {
  name: 'evaluator'
  params: {
    location: location
    tags: union(tags, { 'azd-service-name': 'evaluator' })
    name: names.evaluator
    externalIngress: false
    hostId: 'gpu-${resourceToken}'
    // Load the one function: no HTTP API, timer or Durable work on the GPU replicas.
    roleSettings: [
      {
        name: 'AzureFunctionsJobHost__functions__0'
        value: 'EvaluateQueuedTask'
      }
    ]
    // One replica (one GPU) per waiting task, up to maxReplicas; KEDA reads the queue with the managed identity. KEDA's
    // default scaling strategy for queue length is kept (replicas = ceil(messages / queueLength)).
    scaleRules: [
      {
        name: 'evaluation-queue'
        azureQueue: {
          accountName: storage.outputs.name
          queueName: storage.outputs.evaluationQueueName
          queueLength: 1
          identity: identity.outputs.id
        }
      }
    ]
    cooldownPeriodSeconds: evaluatorCooldownSeconds
    pollingIntervalSeconds: 15
    terminationGracePeriodSeconds: evaluatorTerminationGracePeriodSeconds
    workloadProfileName: gpuWorkloadProfileName
    cpu: functionCpu
    memory: functionMemory
    minReplicas: minReplicas
    maxReplicas: maxReplicas
    image: empty(evaluatorImageName) ? placeholderImage : evaluatorImageName
    device: 'cuda'
    managedEnvironmentId: environment.outputs.id
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
  }
  dependsOn: [
    monitoring
    rbac
  ]
}

@description('Base URL of the API, e.g. https://func-xyz.<env domain>/api.')
output API_BASE_URL string = 'https://${controlPlane.outputs.defaultHostName}/api'

@description('Host name of the control plane (the API).')
output FUNCTION_APP_HOSTNAME string = controlPlane.outputs.defaultHostName

@description('Name of the control-plane container app (for az containerapp commands).')
output FUNCTION_APP_NAME string = controlPlane.outputs.name

@description('Name of the evaluator (GPU) container app.')
output EVALUATOR_APP_NAME string = evaluator.outputs.name

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
