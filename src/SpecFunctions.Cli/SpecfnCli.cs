using System.CommandLine;
using SpecFunctions.Cli.Commands;

namespace SpecFunctions.Cli;

/// <summary>
/// The command tree and its one error policy: a parse error or a failure of input or environment becomes one
/// <c>specfn: …</c> line on stderr and an exit code from <see cref="ExitCodes"/>; <c>--verbose</c> (or
/// <c>SPECFN_VERBOSE=1</c>) adds the exception's details.
/// </summary>
internal static class SpecfnCli
{
    public const string VerboseVariable = "SPECFN_VERBOSE";

    /// <summary>Global: the details of a failure (exception chain and stack) after its one-line message.</summary>
    public static Option<bool> Verbose { get; } = new("--verbose") { Description = $"On failure, print the details after the one-line message (also {VerboseVariable}=1)", Recursive = true };

    public static RootCommand CreateRoot() => new("specfn — measure and fix the unequal speed-ups of speculative decoding")
    {
        // Each command lives in Commands/<Name>Command.cs and exposes Create().
        SimulateCommand.Create(),
        RunCommand.Create(),
        EstimateCommand.Create(),
        ModelsCommand.Create(),
        AuditCommand.Create(),
        SuiteCommand.Create(),
        MitigateCommand.Create(),
        ReportCommand.Create(),
        RunsCommand.Create(),
        TrendCommand.Create(),
        Verbose,
    };

    /// <summary>Parses and runs <paramref name="args"/>; never throws for a failure of the command, returns its exit code.</summary>
    /// <param name="args">Command-line arguments.</param>
    /// <param name="error">Where error lines go; default <see cref="Console.Error"/> at the time of the call.</param>
    /// <param name="cancellationToken">Cancels the command.</param>
    public static async Task<int> InvokeAsync(string[] args, TextWriter? error = null, CancellationToken cancellationToken = default)
    {
        error ??= Console.Error;
        var parse = CreateRoot().Parse(args);
        if (parse.Errors.Count > 0)
        {
            // One line per problem, no help dump: scripts read the first line.
            foreach (var problem in parse.Errors)
            {
                await error.WriteLineAsync($"specfn: {problem.Message}").ConfigureAwait(false);
            }

            return ExitCodes.Usage;
        }

        try
        {
            return await parse.InvokeAsync(new InvocationConfiguration { EnableDefaultExceptionHandler = false }, cancellationToken).ConfigureAwait(false);
        }
        catch (Exception ex)
        {
            var (message, code) = CliErrors.Describe(ex);
            await error.WriteLineAsync($"specfn: {message}").ConfigureAwait(false);
            if (IsVerbose(parse))
            {
                await error.WriteLineAsync(ex.ToString()).ConfigureAwait(false);
            }

            return code;
        }
    }

    private static bool IsVerbose(ParseResult parse) =>
        parse.GetValue(Verbose) || Environment.GetEnvironmentVariable(VerboseVariable) is "1" or "true";
}

/// <summary>The CLI's exit codes (docs/settings.md, "Exit codes").</summary>
internal static class ExitCodes
{
    /// <summary>Success; for <c>run</c>/<c>audit</c>: every task evaluated and the report written.</summary>
    public const int Ok = 0;

    /// <summary>A runtime failure: storage, model files, a failed or missing task, no report.</summary>
    public const int Failure = 1;

    /// <summary>Invalid command line or input file (nothing was evaluated).</summary>
    public const int Usage = 2;

    /// <summary>Cancelled (Ctrl+C).</summary>
    public const int Cancelled = 130;
}

/// <summary>A failure the CLI reports as one line with a chosen exit code.</summary>
internal sealed class CliException(string message, int exitCode = ExitCodes.Failure, Exception? inner = null) : Exception(message, inner)
{
    public int ExitCode { get; } = exitCode;
}
