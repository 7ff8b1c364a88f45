using System.CommandLine;
using SpecFunctions.Core.Models;
using SpecFunctions.Onnx;

namespace SpecFunctions.Cli;

/// <summary>Range checks on options, one line each; every CLI error is a one-line message naming the option.</summary>
internal static class CliValidation
{
    /// <summary>Reports <paramref name="message"/> when the option's value fails <paramref name="valid"/>.</summary>
    public static void Require<T>(this Option<T> option, Func<T, bool> valid, string message) =>
        option.Validators.Add(result =>
        {
            T value;
            try
            {
                value = result.GetValueOrDefault<T>();
            }
            catch (InvalidOperationException)
            {
                // A value that does not parse is reported by the parser itself; only judge values that parsed.
                return;
            }

            if (!valid(value))
            {
                result.AddError(message);
            }
        });

    /// <summary>
    /// A usage error (exit 2, one line) naming the first of <paramref name="folders"/> that holds no model configuration
    /// (<c>specfn-model.json</c>, <c>genai_config.json</c> or optimum's <c>config.json</c>).
    /// </summary>
    /// <exception cref="CliException">A folder is not a model folder.</exception>
    public static void RequireModelFolders(params DirectoryInfo[] folders)
    {
        foreach (var dir in folders)
        {
            if (!ModelFolder.IsModelFolder(dir.FullName))
            {
                throw new CliException(
                    $"'{dir.FullName}' is not a model folder (no {ModelManifest.FileName}, {ModelFolder.GenAiConfigFileName} or {ModelFolder.OptimumConfigFileName})", ExitCodes.Usage);
            }
        }
    }
}
