using System.Diagnostics;
using System.Reflection;

namespace SpecFunctions.Infra.Tests;

/// <summary>Result of one bicep invocation: exit code and both output streams.</summary>
internal sealed record BicepResult(int ExitCode, string StandardOutput, string StandardError)
{
    /// <summary>Diagnostic lines ("path(line,col) : Warning|Error code: message") from either stream.</summary>
    public IReadOnlyList<string> Diagnostics =>
        (StandardOutput + "\n" + StandardError)
            .Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries)
            .Where(line => line.Contains(" : Warning ", StringComparison.Ordinal)
                        || line.Contains(" : Error ", StringComparison.Ordinal)
                        || line.Contains(" : Info ", StringComparison.Ordinal))
            .ToList();
}

/// <summary>
/// Runs the bicep binary from the Azure.Bicep.CommandLine.linux-x64 NuGet package; the package folder comes from
/// the BicepPackagePath assembly metadata the test project writes at build time.
/// </summary>
internal static class BicepCli
{
    private static readonly Lazy<string> _executable = new(Locate);

    /// <summary>Absolute path of the bicep executable.</summary>
    public static string Executable => _executable.Value;

    /// <summary>Runs bicep with the given arguments in <paramref name="workingDirectory"/>; waits at most 2 minutes.</summary>
    public static BicepResult Run(string workingDirectory, params string[] arguments)
    {
        var startInfo = new ProcessStartInfo(Executable)
        {
            WorkingDirectory = workingDirectory,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        foreach (var argument in arguments)
        {
            startInfo.ArgumentList.Add(argument);
        }

        // Keep the CLI offline and quiet: no telemetry, no update check.
        startInfo.Environment["BICEP_TELEMETRY_ENABLED"] = "false";
        startInfo.Environment["DOTNET_CLI_TELEMETRY_OPTOUT"] = "1";

        using var process = Process.Start(startInfo)
            ?? throw new InvalidOperationException($"Could not start '{Executable}'.");
        var stdout = process.StandardOutput.ReadToEndAsync();
        var stderr = process.StandardError.ReadToEndAsync();
        if (!process.WaitForExit(TimeSpan.FromMinutes(2)))
        {
            process.Kill(entireProcessTree: true);
            throw new TimeoutException($"bicep {string.Join(' ', arguments)} did not finish within 2 minutes.");
        }

        return new BicepResult(process.ExitCode, stdout.GetAwaiter().GetResult(), stderr.GetAwaiter().GetResult());
    }

    private static string Locate()
    {
        if (!OperatingSystem.IsLinux() || System.Runtime.InteropServices.RuntimeInformation.OSArchitecture
                != System.Runtime.InteropServices.Architecture.X64)
        {
            throw new PlatformNotSupportedException(
                "The infrastructure tests run the bicep binary from Azure.Bicep.CommandLine.linux-x64, which needs Linux x64.");
        }

        var packagePath = typeof(BicepCli).Assembly
            .GetCustomAttributes<AssemblyMetadataAttribute>()
            .SingleOrDefault(a => a.Key == "BicepPackagePath")?.Value;
        if (string.IsNullOrWhiteSpace(packagePath))
        {
            throw new InvalidOperationException(
                "The test assembly carries no BicepPackagePath metadata: restore the Azure.Bicep.CommandLine.linux-x64 package " +
                "(GeneratePathProperty) and rebuild the test project.");
        }

        var executable = Path.Combine(packagePath, "tools", "bicep");
        if (!File.Exists(executable))
        {
            throw new FileNotFoundException(
                $"The bicep binary is missing from the package folder '{packagePath}' (expected tools/bicep). " +
                "The package ships a linux-x64 binary only.", executable);
        }

        // NuGet extraction does not always keep the execute bit.
        var mode = File.GetUnixFileMode(executable);
        const UnixFileMode executeBits = UnixFileMode.UserExecute | UnixFileMode.GroupExecute | UnixFileMode.OtherExecute;
        if ((mode & UnixFileMode.UserExecute) == 0)
        {
            try
            {
                File.SetUnixFileMode(executable, mode | executeBits);
            }
            catch (UnauthorizedAccessException e)
            {
                throw new InvalidOperationException(
                    $"'{executable}' is not executable and its mode cannot be changed; run chmod +x on it once.", e);
            }
        }

        return executable;
    }
}
