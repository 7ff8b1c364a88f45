using Microsoft.Azure.Functions.Worker;
using Microsoft.Azure.Functions.Worker.Http;

namespace SpecFunctions.Functions.Tests;

/// <summary>A hand-written <see cref="FunctionContext"/> (after functions-dotnet-worker's TestUtility): only binding data is real.</summary>
internal sealed class TestFunctionContext(IReadOnlyDictionary<string, object?> bindingData, IServiceProvider? services = null) : FunctionContext
{
    public override string InvocationId { get; } = Guid.NewGuid().ToString("N");

    public override string FunctionId { get; } = "test-function";

    public override TraceContext TraceContext => throw new NotSupportedException("not needed by these tests");

    public override BindingContext BindingContext { get; } = new TestBindingContext(bindingData);

    public override RetryContext RetryContext => throw new NotSupportedException("not needed by these tests");

    public override IServiceProvider InstanceServices { get; set; } = services ?? new EmptyServices();

    public override FunctionDefinition FunctionDefinition => throw new NotSupportedException("not needed by these tests");

    public override IDictionary<object, object> Items { get; set; } = new Dictionary<object, object>();

    public override IInvocationFeatures Features => throw new NotSupportedException("not needed by these tests");

    private sealed class TestBindingContext(IReadOnlyDictionary<string, object?> data) : BindingContext
    {
        public override IReadOnlyDictionary<string, object?> BindingData { get; } = data;
    }

    private sealed class EmptyServices : IServiceProvider
    {
        public object? GetService(Type serviceType) => null;
    }
}
