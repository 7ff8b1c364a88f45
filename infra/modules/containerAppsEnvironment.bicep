metadata description = 'Azure Container Apps environment (workload profiles) with the default Consumption profile and the serverless GPU profile(s) for the evaluation replicas, each named after its type.'

@description('Azure region for the environment. Serverless GPU profiles exist only in some regions (e.g. westus3, australiaeast, swedencentral).')
param location string

@description('Tags applied to the environment.')
param tags object

@description('Name of the Container Apps managed environment.')
param name string

@description('Name of the Log Analytics workspace that receives container console and system logs.')
param logAnalyticsWorkspaceName string

@description('Serverless GPU workload profiles as {name, type} pairs: the one the evaluator runs on and, during a switch of GPU type, the previous one (kept until the app has moved). Types: Consumption-GPU-NC8as-T4 (NVIDIA T4, 16 GB) or Consumption-GPU-NC24-A100 (NVIDIA A100, 80 GB).')
@minLength(1)
@maxLength(2)
param gpuWorkloadProfiles array

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
    workloadProfiles: concat(
      [
        {
          name: 'Consumption'
          workloadProfileType: 'Consumption'
        }
      ],
      map(gpuWorkloadProfiles, profile => {
        name: profile.name
        workloadProfileType: profile.type
      })
    )
    zoneRedundant: false
  }
}

@description('Resource ID of the managed environment.')
output id string = environment.id

@description('Name of the managed environment.')
output name string = environment.name

@description('Default domain of the environment.')
output defaultDomain string = environment.properties.defaultDomain
