metadata description = 'Log Analytics workspace and workspace-based Application Insights for the evaluation service.'

@description('Azure region for the monitoring resources.')
param location string

@description('Tags applied to every resource in this module.')
param tags object

@description('Name of the Log Analytics workspace.')
param logAnalyticsName string

@description('Name of the Application Insights component.')
param applicationInsightsName string

@description('Days Log Analytics keeps data (30 is the free retention tier).')
@minValue(30)
@maxValue(730)
param retentionInDays int = 30

resource logAnalytics 'Microsoft.OperationalInsights/workspaces@2025-02-01' = {
  name: logAnalyticsName
  location: location
  tags: tags
  properties: {
    sku: {
      name: 'PerGB2018'
    }
    retentionInDays: retentionInDays
  }
}

resource applicationInsights 'Microsoft.Insights/components@2020-02-02' = {
  name: applicationInsightsName
  location: location
  tags: tags
  kind: 'web'
  properties: {
    Application_Type: 'web'
    WorkspaceResourceId: logAnalytics.id
    IngestionMode: 'LogAnalytics'
    // Entra ID only: telemetry without a token from an identity holding Monitoring Metrics Publisher is refused, so
    // the instrumentation key in the connection string alone no longer lets anyone write to this component.
    DisableLocalAuth: true
  }
}

@description('Resource ID of the Log Analytics workspace.')
output logAnalyticsWorkspaceId string = logAnalytics.id

@description('Name of the Log Analytics workspace (the Container Apps environment reads its keys by name).')
output logAnalyticsWorkspaceName string = logAnalytics.name

@description('Name of the Application Insights component.')
output applicationInsightsName string = applicationInsights.name
