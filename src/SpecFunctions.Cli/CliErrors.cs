using SpecFunctions.Core.Storage;
using SpecFunctions.Onnx;

namespace SpecFunctions.Cli;

/// <summary>Turns an exception that escaped a command into its one-line message and exit code.</summary>
internal static class CliErrors
{
    /// <summary>Longest message printed; the rest is in the <c>--verbose</c> details.</summary>
    private const int MaxLength = 600;

    public static (string Message, int ExitCode) Describe(Exception ex)
    {
        if (ex is AggregateException { InnerExceptions.Count: 1 } aggregate)
        {
            ex = aggregate.InnerExceptions[0];
        }

        var (message, code) = ex switch
        {
            CliException cli => (cli.Message, cli.ExitCode),
            OperationCanceledException => ("cancelled", ExitCodes.Cancelled),

            // Failures of the environment and of the files named on the command line; their messages name the path.
            ModelLoadException or TraceStoreException or EvaluationFailedException or IOException or UnauthorizedAccessException
                or InvalidDataException or System.Text.Json.JsonException => (ex.Message, ExitCodes.Failure),
            Core.Evaluation.SuiteSourceException => (ex.Message, ExitCodes.Usage),
            ArgumentException { ParamName: { } name } => (ex.Message.Replace($" (Parameter '{name}')", string.Empty, StringComparison.Ordinal), ExitCodes.Usage),
            ArgumentException or FormatException => (ex.Message, ExitCodes.Usage),

            // A bug: still one line, with the type to search for; --verbose has the stack.
            _ => ($"unexpected {ex.GetType().Name}: {ex.Message} (run with --verbose for details)", ExitCodes.Failure),
        };
        return (OneLine(message), code);
    }

    private static string OneLine(string message)
    {
        var line = string.Join(' ', message.ReplaceLineEndings("\n").Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries));
        return line.Length > MaxLength ? line[..MaxLength] + " …" : line;
    }
}
