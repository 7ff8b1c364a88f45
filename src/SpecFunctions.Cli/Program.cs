using SpecFunctions.Cli;

// The command tree and the error policy (one `specfn: …` line, documented exit codes) live in SpecfnCli.
return await SpecfnCli.InvokeAsync(args);
