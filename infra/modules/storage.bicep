metadata description = 'Storage for the Functions host, Durable Functions and evaluation traces. Entra ID only: shared keys are disabled, so every client authenticates with a managed identity or a signed-in user.'

@description('Azure region for the storage account.')
param location string

@description('Tags applied to the storage account.')
param tags object

@description('Storage account name: 3-24 lowercase letters and digits, globally unique.')
@minLength(3)
@maxLength(24)
param name string

@description('Blob container that receives traces and reports (runs/{runId}/...). The app reads the same name from SPECFN_TRACE_CONTAINER.')
param traceContainerName string

@description('Queue the mitigation requests go to (app setting MITIGATION_QUEUE).')
param mitigationQueueName string

@description('Queue the control plane puts one message per task on (the app\'s fixed name specfn-evaluations); the evaluator scales on its length.')
param evaluationQueueName string = 'specfn-evaluations'

@description('Queue the evaluator reports each task\'s completion on (the app\'s fixed name specfn-completions).')
param completionQueueName string = 'specfn-completions'

@description('Durable Functions task hub name (letters and digits, starting with a letter). Its control and work-item queues and its tables are created here so the first orchestration does not wait on creating them.')
@minLength(3)
@maxLength(45)
param durableTaskHubName string

@description('Number of Durable control queues (the Durable extension default partitionCount is 4).')
@minValue(1)
@maxValue(16)
param durablePartitionCount int = 4

@description('Storage redundancy SKU.')
@allowed([
  'Standard_LRS'
  'Standard_ZRS'
  'Standard_GRS'
])
param skuName string = 'Standard_LRS'

// Durable's Azure Storage provider derives its queue names from the lower-cased hub name.
var hubLower = toLower(durableTaskHubName)

resource storage 'Microsoft.Storage/storageAccounts@2025-01-01' = {
  name: name
  location: location
  tags: tags
  kind: 'StorageV2'
  sku: {
    name: skuName
  }
  properties: {
    accessTier: 'Hot'
    allowSharedKeyAccess: false
    allowBlobPublicAccess: false
    allowCrossTenantReplication: false
    defaultToOAuthAuthentication: true
    minimumTlsVersion: 'TLS1_2'
    supportsHttpsTrafficOnly: true
    publicNetworkAccess: 'Enabled'
    networkAcls: {
      bypass: 'AzureServices'
      defaultAction: 'Allow'
    }
  }
}

resource blobService 'Microsoft.Storage/storageAccounts/blobServices@2025-01-01' = {
  parent: storage
  name: 'default'
  properties: {
    deleteRetentionPolicy: {
      enabled: true
      days: 7
    }
  }
}

resource traceContainer 'Microsoft.Storage/storageAccounts/blobServices/containers@2025-01-01' = {
  parent: blobService
  name: traceContainerName
  properties: {
    publicAccess: 'None'
  }
}

resource queueService 'Microsoft.Storage/storageAccounts/queueServices@2025-01-01' = {
  parent: storage
  name: 'default'
}

resource mitigationQueue 'Microsoft.Storage/storageAccounts/queueServices/queues@2025-01-01' = {
  parent: queueService
  name: mitigationQueueName
}

resource taskQueues 'Microsoft.Storage/storageAccounts/queueServices/queues@2025-01-01' = [
  for queueName in [evaluationQueueName, completionQueueName]: {
    parent: queueService
    name: queueName
  }
]

resource durableControlQueues 'Microsoft.Storage/storageAccounts/queueServices/queues@2025-01-01' = [
  for i in range(0, durablePartitionCount): {
    parent: queueService
    name: '${hubLower}-control-${padLeft(string(i), 2, '0')}'
  }
]

resource durableWorkItemQueue 'Microsoft.Storage/storageAccounts/queueServices/queues@2025-01-01' = {
  parent: queueService
  name: '${hubLower}-workitems'
}

resource tableService 'Microsoft.Storage/storageAccounts/tableServices@2025-01-01' = {
  parent: storage
  name: 'default'
}

resource durableHistoryTable 'Microsoft.Storage/storageAccounts/tableServices/tables@2025-01-01' = {
  parent: tableService
  name: '${durableTaskHubName}History'
}

resource durableInstancesTable 'Microsoft.Storage/storageAccounts/tableServices/tables@2025-01-01' = {
  parent: tableService
  name: '${durableTaskHubName}Instances'
}

@description('Name of the storage account.')
output name string = storage.name

@description('Resource ID of the storage account (scope of the data-plane role assignments).')
output id string = storage.id

@description('Blob endpoint, e.g. https://stxyz.blob.core.windows.net/.')
output blobEndpoint string = storage.properties.primaryEndpoints.blob

@description('Queue endpoint.')
output queueEndpoint string = storage.properties.primaryEndpoints.queue

@description('Name of the trace container.')
output traceContainerName string = traceContainer.name

@description('Name of the evaluation queue.')
output evaluationQueueName string = taskQueues[0].name

@description('Name of the mitigation queue.')
output mitigationQueueName string = mitigationQueue.name
