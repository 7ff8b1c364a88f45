metadata description = 'The user-assigned managed identity the Functions app runs as: it pulls the image and reaches storage with it.'

@description('Azure region for the identity.')
param location string

@description('Tags applied to the identity.')
param tags object

@description('Name of the user-assigned managed identity.')
param name string

resource identity 'Microsoft.ManagedIdentity/userAssignedIdentities@2024-11-30' = {
  name: name
  location: location
  tags: tags
}

@description('Resource ID of the identity.')
output id string = identity.id

@description('Name of the identity.')
output name string = identity.name

@description('Client (application) ID of the identity; app settings name it so the SDKs pick this identity.')
output clientId string = identity.properties.clientId

@description('Object (principal) ID of the identity; role assignments target it.')
output principalId string = identity.properties.principalId
