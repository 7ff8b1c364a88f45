using Spectre.Console;

namespace SpecFunctions.Cli.Tests;

/// <summary>Tests that swap the process's console (stdout, stderr, Spectre's console) run one at a time.</summary>
[CollectionDefinition(Name)]
public sealed class ConsoleCollection
{
    public const string Name = "Console";
}

/// <summary>Runs <c>specfn</c> in process through its real entry point and captures everything it prints.</summary>
internal static class CliHarness
{
    public static async Task<(int Exit, string Out, string Error)> RunAsync(params string[] args)
    {
        var (stdout, stderr) = (new StringWriter(), new StringWriter());
        var (previousOut, previousError, previousAnsi) = (Console.Out, Console.Error, AnsiConsole.Console);
        try
        {
            Console.SetOut(stdout);
            Console.SetError(stderr);
            AnsiConsole.Console = AnsiConsole.Create(new AnsiConsoleSettings
            {
                Out = new AnsiConsoleOutput(stdout),
                ColorSystem = ColorSystemSupport.NoColors,
                Interactive = InteractionSupport.No,
            });
            // Long lines unfolded, so that a path or URI can be found whole.
            AnsiConsole.Console.Profile.Width = 1000;
            var exit = await SpecfnCli.InvokeAsync(args);
            return (exit, stdout.ToString(), stderr.ToString());
        }
        finally
        {
            Console.SetOut(previousOut);
            Console.SetError(previousError);
            AnsiConsole.Console = previousAnsi;
        }
    }

    /// <summary>Non-empty lines of <paramref name="text"/>.</summary>
    public static string[] Lines(string text) => text.Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);

    /// <summary>True when <paramref name="text"/> holds a .NET stack frame or the default handler's banner.</summary>
    public static bool HasStackTrace(string text) =>
        text.Contains("Unhandled exception", StringComparison.Ordinal) || Lines(text).Any(l => l.StartsWith("at ", StringComparison.Ordinal) && l.Contains('(', StringComparison.Ordinal));
}
