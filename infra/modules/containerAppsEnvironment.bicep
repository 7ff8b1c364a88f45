metadata description = 'Azure Container Apps environment (workload profiles) with the default Consumption profile and one serverless GPU profile for the evaluation replicas.'

@description('Azure region for the environment. Serverless GPU profiles exist only in some regions (e.g. westus3, australiaeast, swedencentral).')
param location string

@description('Tags applied to the environment.')
param tags object

@description('Name of the Container Apps managed environment.')
param name string

@description('Name of the Log Analytics workspace that receives container console and system logs.')
param logAnalyticsWorkspaceName string

@description('Name given to the GPU workload profile inside the environment; apps select it by this name.')
param gpuWorkloadProfileName string

@description('Serverless GPU workload profile type: Consumption-GPU-NC8as-T4 (NVIDIA T4, 16 GB) or Consumption-GPU-NC24-A100 (NVIDIA A100, 80 GB).')
@allowed([
  'Consumption-GPU-NC8as-T4'
  'Consumption-GPU-NC24-A100'
])
param gpuWorkloadProfileType string

resource logAnalytics 'Microsoft.OperationalInsights/workspaces@2025-02-01' existing = {
  name: logAnalyticsWorkspaceName
}

resource environment 'Microsoft.App/managedEnvironments@2025-01-01' = {
  name: name
  location: location
  tags: tags
  properties: {
    appLogsConfiguration: {
      destination: 'log-analytics'
      logAnalyticsConfiguration: {
        customerId: logAnalytics.properties.customerId
        sharedKey: logAnalytics.listKeys().primarySharedKey
      }
    }
    // Serverless (Consumption-*) profiles take no node counts: replicas are billed per second and scale to zero.
    workloadProfiles: [
      {
        name: 'Consumption'
        workloadProfileType: 'Consumption'
      }
      {
        name: gpuWorkloadProfileName
        workloadProfileType: gpuWorkloadProfileType
      }
    ]
    zoneRedundant: false
  }
}

@description('Resource ID of the managed environment.')
output id string = environment.id

@description('Name of the managed environment.')
output name string = environment.name

@description('Default domain of the environment.')
output defaultDomain string = environment.properties.defaultDomain
