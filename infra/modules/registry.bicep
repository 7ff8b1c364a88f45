metadata description = 'Azure Container Registry for the Functions image. Admin user off: pulls use the managed identity (AcrPull).'

@description('Azure region for the registry.')
param location string

@description('Tags applied to the registry.')
param tags object

@description('Registry name: 5-50 alphanumeric characters, globally unique.')
@minLength(5)
@maxLength(50)
param name string

@description('Registry SKU. Basic suffices for one image; Premium adds private endpoints and geo-replication.')
@allowed([
  'Basic'
  'Standard'
  'Premium'
])
param sku string = 'Basic'

resource registry 'Microsoft.ContainerRegistry/registries@2025-04-01' = {
  name: name
  location: location
  tags: tags
  sku: {
    name: sku
  }
  properties: {
    adminUserEnabled: false
    anonymousPullEnabled: false
    publicNetworkAccess: 'Enabled'
    policies: {
      // Container Apps pulls with the identity's ARM-audience token; stated here so a tenant-wide default that turns
      // ARM-audience tokens off cannot break the pull silently.
      azureADAuthenticationAsArmPolicy: {
        status: 'enabled'
      }
    }
  }
}

@description('Name of the registry.')
output name string = registry.name

@description('Login server of the registry, e.g. crxyz.azurecr.io.')
output loginServer string = registry.properties.loginServer
