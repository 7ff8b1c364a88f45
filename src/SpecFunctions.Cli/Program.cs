using System.CommandLine;
using SpecFunctions.Cli.Commands;

// Each command lives in Commands/<Name>Command.cs and exposes Create(); this file only lists them.
var root = new RootCommand("specfn — measure and fix the unequal speed-ups of speculative decoding")
{
    SimulateCommand.Create(),
    ModelsCommand.Create(),
};

return await root.Parse(args).InvokeAsync();
