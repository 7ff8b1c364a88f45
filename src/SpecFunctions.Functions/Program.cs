using Microsoft.Azure.Functions.Worker.Builder;
using Microsoft.Extensions.Hosting;
using SpecFunctions.Functions.Hosting;

var builder = FunctionsApplication.CreateBuilder(args);
builder.ConfigureFunctionsWebApplication();

builder.Services.AddSpecFunctionsJson();
builder.Services.AddSpecFunctionsTelemetry(builder.Configuration);
builder.Services.AddSpecFunctionsStorage(builder.Configuration);
builder.Services.AddSpecFunctionsEvaluationPlanes(builder.Configuration);
builder.Services.AddSpecFunctionsApi();

builder.Build().Run();
