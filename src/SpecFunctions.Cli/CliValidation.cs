using System.CommandLine;

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
}
