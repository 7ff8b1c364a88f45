using System.CommandLine;

namespace SpecFunctions.Cli.Commands;

internal static class SimulateCommand
{
    public static Command Create()
    {
        var command = new Command("simulate", "Run the engine on a synthetic drafter/verifier pair with a chosen acceptance rate.");
        command.SetAction(_ => 0);
        return command;
    }
}
