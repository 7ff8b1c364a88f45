using System.CommandLine;
using SpecFunctions.Cli.Commands;

// Each command lives in Commands/<Name>Command.cs and exposes Create(); this file only lists them.
var root = new RootCommand("specfn — measure and fix the unequal speed-ups of speculative decoding")
{
    SimulateCommand.Create(),
    RunCommand.Create(),
    ModelsCommand.Create(),
    AuditCommand.Create(),
    SuiteCommand.Create(),
    ReportCommand.Create(),
};

var parse = root.Parse(args);
if (parse.Errors.Count > 0)
{
    // One line per problem, no help dump: scripts read the first line.
    foreach (var error in parse.Errors)
    {
        Console.Error.WriteLine($"specfn: {error.Message}");
    }

    return 2;
}

return await parse.InvokeAsync();
