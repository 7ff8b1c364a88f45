using System.Diagnostics;
using System.Globalization;

namespace SpecFunctions.Functions.EndToEnd.Tests;

/// <summary>
/// One Functions host process serving a published app: the script named by <see cref="HostVariable"/> (a
/// <c>start APP --port N --storage CS --master-key KEY</c> launcher such as ../shared/tools/functions-host/start), or
/// Core Tools' <c>func start</c> on PATH. Output goes to a log file; <see cref="KillHard"/> is a <c>kill -9</c> of the host
/// and its worker.
/// </summary>
public sealed class FunctionsHost : IDisposable
{
    public const string HostVariable = "SPECFN_FUNCTIONS_HOST";

    private readonly Process _process;
    private readonly StreamWriter _log;

    private FunctionsHost(Process process, StreamWriter log, string logPath)
    {
        _process = process;
        _log = log;
        LogPath = logPath;
    }

    public string LogPath { get; }

    /// <summary>True once the host's process has ended (killed, or shut down on its own).</summary>
    public bool HasExited => _process.HasExited;

    /// <summary>True when the launcher enforces function keys locally (the host build does; <c>func start</c> does not).</summary>
    public static bool EnforcesKeys => Launcher() is { IsFunc: false };

    /// <summary>The launcher: the script named by <see cref="HostVariable"/>, else <c>func</c> on PATH, else null.</summary>
    public static (string Path, bool IsFunc)? Launcher()
    {
        if (Environment.GetEnvironmentVariable(HostVariable) is { Length: > 0 } script)
        {
            return (System.IO.Path.GetFullPath(script), false);
        }

        var func = (Environment.GetEnvironmentVariable("PATH") ?? "")
            .Split(System.IO.Path.PathSeparator, StringSplitOptions.RemoveEmptyEntries)
            .Select(dir => System.IO.Path.Combine(dir, "func"))
            .FirstOrDefault(File.Exists);
        return func is null ? null : (func, true);
    }

    /// <summary>Starts the host on <paramref name="app"/> and waits until it answers HTTP (at most 3 minutes).</summary>
    public static async Task<FunctionsHost> StartAsync(
        string app, int port, string storage, string masterKey, IReadOnlyDictionary<string, string> settings, string workFolder, string logName)
    {
        var (launcher, isFunc) = Launcher() ?? throw new InvalidOperationException(
            $"No Azure Functions host: set {HostVariable} to a `start APP [--port N] [--storage CS] [--master-key KEY]` script "
            + "(CI: ../shared/tools/functions-host/start) or install Azure Functions Core Tools (`func` on PATH).");
        var port_ = port.ToString(CultureInfo.InvariantCulture);
        var start = isFunc
            ? new ProcessStartInfo(launcher) { WorkingDirectory = app, ArgumentList = { "start", "--port", port_ } }
            : new ProcessStartInfo("bash") { ArgumentList = { launcher, app, "--port", port_, "--storage", storage, "--master-key", masterKey } };
        start.RedirectStandardOutput = true;
        start.RedirectStandardError = true;
        start.UseShellExecute = false;
        foreach (var (name, value) in settings)
        {
            start.Environment[name] = value;
        }

        start.Environment["AzureWebJobsStorage"] = storage;
        start.Environment["FUNCTIONS_WORKER_RUNTIME"] = "dotnet-isolated";
        start.Environment["TMPDIR"] = workFolder; // the launcher copies the host there; deleted with the fixture

        var logPath = System.IO.Path.Combine(workFolder, logName);
        var log = new StreamWriter(logPath, append: true) { AutoFlush = true };
        var process = Process.Start(start) ?? throw new InvalidOperationException($"could not start {launcher}");
        process.OutputDataReceived += (_, e) => Write(log, e.Data);
        process.ErrorDataReceived += (_, e) => Write(log, e.Data);
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
        var host = new FunctionsHost(process, log, logPath);

        using var http = new HttpClient { Timeout = TimeSpan.FromSeconds(5) };
        var deadline = DateTime.UtcNow + TimeSpan.FromMinutes(3);
        while (true)
        {
            if (process.HasExited)
            {
                throw new InvalidOperationException($"the Functions host exited with code {process.ExitCode}: {host.Tail()}");
            }

            try
            {
                // The admin status route answers once the host (and its worker) is running.
                using var request = new HttpRequestMessage(HttpMethod.Get, $"http://127.0.0.1:{port}/admin/host/status");
                request.Headers.Add("x-functions-key", masterKey);
                using var response = await http.SendAsync(request);
                if (response.IsSuccessStatusCode && (await response.Content.ReadAsStringAsync()).Contains("\"Running\"", StringComparison.Ordinal))
                {
                    return host;
                }
            }
            catch (Exception ex) when (ex is HttpRequestException or TaskCanceledException)
            {
            }

            if (DateTime.UtcNow > deadline)
            {
                host.Dispose();
                throw new TimeoutException($"the Functions host did not start in 3 minutes: {host.Tail()}");
            }

            await Task.Delay(500);
        }
    }

    /// <summary>The host's process and every descendant (its language worker), SIGKILLed at once: a crash, not a shutdown.</summary>
    public void KillHard()
    {
        foreach (var pid in Descendants(_process.Id).Prepend(_process.Id).ToList())
        {
            try
            {
                Process.GetProcessById(pid).Kill(); // SIGKILL on Unix
            }
            catch (Exception ex) when (ex is ArgumentException or InvalidOperationException)
            {
                // already gone
            }
        }

        _process.WaitForExit(10_000);
    }

    /// <summary>The last lines of the host's log, for failure messages.</summary>
    public string Tail(int lines = 40)
    {
        try
        {
            using var stream = new FileStream(LogPath, FileMode.Open, FileAccess.Read, FileShare.ReadWrite);
            using var reader = new StreamReader(stream);
            return string.Join('\n', reader.ReadToEnd().Split('\n').TakeLast(lines));
        }
        catch (IOException ex)
        {
            return $"(log unreadable: {ex.Message})";
        }
    }

    /// <summary>Lines of the host's log containing <paramref name="text"/>.</summary>
    public IReadOnlyList<string> LogLines(string text)
    {
        using var stream = new FileStream(LogPath, FileMode.Open, FileAccess.Read, FileShare.ReadWrite);
        using var reader = new StreamReader(stream);
        return reader.ReadToEnd().Split('\n').Where(l => l.Contains(text, StringComparison.Ordinal)).ToList();
    }

    public void Dispose()
    {
        if (!_process.HasExited)
        {
            KillHard();
        }

        _process.Dispose();
        lock (_log)
        {
            _log.Dispose();
        }
    }

    private static void Write(StreamWriter log, string? line)
    {
        if (line is null)
        {
            return;
        }

        lock (log)
        {
            if (log.BaseStream.CanWrite)
            {
                log.WriteLine(line);
            }
        }
    }

    /// <summary>Descendants by parent PID from /proc (the worker is the host's child; after a kill -9 it would live on).</summary>
    private static IEnumerable<int> Descendants(int root)
    {
        var parents = new Dictionary<int, int>();
        foreach (var dir in Directory.EnumerateDirectories("/proc"))
        {
            if (!int.TryParse(System.IO.Path.GetFileName(dir), out var pid))
            {
                continue;
            }

            try
            {
                // /proc/PID/stat: "pid (comm) state ppid ..."; comm may contain spaces, so split after the last ')'.
                var stat = File.ReadAllText(System.IO.Path.Combine(dir, "stat"));
                var fields = stat[(stat.LastIndexOf(')') + 2)..].Split(' ');
                parents[pid] = int.Parse(fields[1], CultureInfo.InvariantCulture);
            }
            catch (IOException)
            {
            }
        }

        var result = new List<int>();
        var frontier = new Queue<int>([root]);
        while (frontier.Count > 0)
        {
            var parent = frontier.Dequeue();
            foreach (var (pid, _) in parents.Where(p => p.Value == parent))
            {
                result.Add(pid);
                frontier.Enqueue(pid);
            }
        }

        return result;
    }
}
