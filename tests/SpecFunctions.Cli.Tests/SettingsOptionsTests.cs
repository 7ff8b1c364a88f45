using System.CommandLine;
using SpecFunctions.Cli.Commands;

namespace SpecFunctions.Cli.Tests;

public class SettingsOptionsTests
{
    [Theory]
    [InlineData(false, new string[0], false)]
    [InlineData(false, new[] { "--ignore-eos" }, true)]
    [InlineData(true, new string[0], true)]
    [InlineData(true, new[] { "--ignore-eos", "false" }, false)]
    [InlineData(true, new[] { "--gamma", "3", "--max-new-tokens", "32", "--seed", "9" }, true)]
    public void Read_IgnoreEos_FollowsTheCommandsDefaultAndTheFlag(bool auditDefault, string[] args, bool expected)
    {
        var options = new SettingsOptions(ignoreEosByDefault: auditDefault);
        var command = new Command("x");
        options.AddTo(command);

        var parse = command.Parse(args);

        Assert.Empty(parse.Errors);
        var settings = options.Read(parse);
        Assert.Equal(expected, settings.IgnoreEos);
        Assert.Equal(args.Contains("--gamma") ? 3 : 4, settings.Gamma);
        Assert.Equal(args.Contains("--max-new-tokens") ? 32 : 64, settings.MaxNewTokens);
        Assert.Equal(args.Contains("--seed") ? 9 : 1, settings.Seed);
    }
}
