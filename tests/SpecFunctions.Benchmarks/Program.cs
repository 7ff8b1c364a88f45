using BenchmarkDotNet.Running;
using SpecFunctions.Benchmarks;

// `-- demo-pair` runs the end-to-end measurement of the demo pair (one pass, ratios in one run);
// `-- demo-gamma` checks the per-task draft length γ* against measurements at every γ;
// `-- demo-calls` times the demo models' ONNX calls alone (per-call µs);
// `-- fanout-sim [options]` simulates a 100-task × 1 000-prompt audit's fan-out at 1 … 64 replicas (FanOutBench);
// `-- transformer [options]` times a random-weight decoder-with-past transformer, plain Run vs IO binding (TransformerBench);
// anything else goes to BenchmarkDotNet (`-- --filter '*'`).
if (args is ["demo-pair", ..])
{
    return await DemoPairBench.RunAsync(args[1..]);
}

if (args is ["demo-gamma", ..])
{
    return await DraftLengthBench.RunAsync(args[1..]);
}

if (args is ["demo-calls", ..])
{
    return await DemoCallsBench.RunAsync(args[1..]);
}

if (args is ["fanout-sim", ..])
{
    return FanOutBench.Run(args[1..]);
}

if (args is ["transformer", ..])
{
    return TransformerBench.Run(args[1..]);
}

BenchmarkSwitcher.FromAssembly(typeof(Program).Assembly).Run(args);
return 0;
