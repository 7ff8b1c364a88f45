using System.Diagnostics;
using System.Text;

namespace SpecFunctions.Cli.Tests;

/// <summary>
/// A hostile corpus of suite files: every finding of the hostile-user session on <c>specfn run --suite</c> and more.
/// Each case lays out a folder (the suite file, its prompts files, links, FIFOs) and says what a correct loader does:
/// refuse it with one message naming <see cref="HostileSuiteCase.Field"/>, or accept it.
/// </summary>
internal static class HostileSuiteCorpus
{
    /// <summary>A valid prompts file next to most suites (task <c>de</c>).</summary>
    public const string PromptsFileText = "eins\nzwei\n";

    public static IReadOnlyList<HostileSuiteCase> Cases { get; } = Build();

    /// <summary>A valid suite: task <c>en</c> with inline prompts, task <c>de</c> from <c>de.txt</c>.</summary>
    private static string Suite(string en = """{"id":"en","prompts":["hello","world"]}""", string de = """{"id":"de","promptsFile":"de.txt"}""", string name = "\"s\"") =>
        $$"""{"name":{{name}},"tasks":[{{en}},{{de}}]}""";

    private static HostileSuiteCase Reject(string name, string finding, string field, string json, Action<string>? extra = null) =>
        new(name, finding, field, folder =>
        {
            File.WriteAllText(Path.Combine(folder, "de.txt"), PromptsFileText);
            extra?.Invoke(folder);
            return Write(folder, Encoding.UTF8.GetBytes(json));
        });

    private static HostileSuiteCase RejectBytes(string name, string finding, string field, byte[] json) =>
        new(name, finding, field, folder => Write(folder, json));

    // A task whose prompts come from a file the case writes as raw bytes.
    private static HostileSuiteCase PromptsBytes(string name, string finding, string? field, byte[] content, string[]? expectedPrompts = null) =>
        new(name, finding, field, folder =>
        {
            File.WriteAllBytes(Path.Combine(folder, "de.txt"), content);
            return Write(folder, Encoding.UTF8.GetBytes(Suite()));
        }, expectedPrompts is { } expected ? s => s.Tasks[1].Prompts.SequenceEqual(expected) : null);

    private static HostileSuiteCase PromptsFileNamed(string name, string finding, string promptsFileJson, Action<string>? extra = null) =>
        Reject(name, finding, "tasks[1].promptsFile", Suite(de: $$"""{"id":"de","promptsFile":{{promptsFileJson}}}"""), extra);

    private static string Write(string folder, byte[] bytes)
    {
        var path = Path.Combine(folder, "suite.json");
        File.WriteAllBytes(path, bytes);
        return path;
    }

    private static byte[] Bytes(params object[] parts) =>
        [.. parts.SelectMany(p => p switch { string s => Encoding.UTF8.GetBytes(s), byte[] b => b, byte b => [b], _ => throw new ArgumentException("part") })];

    private static List<HostileSuiteCase> Build()
    {
        var bom = new byte[] { 0xEF, 0xBB, 0xBF };
        var cases = new List<HostileSuiteCase>
        {
            // Baselines: what must keep working.
            new("valid suite", "baseline", null, f => { File.WriteAllText(Path.Combine(f, "de.txt"), PromptsFileText); return Write(f, Encoding.UTF8.GetBytes(Suite())); },
                s => s.Tasks.Count == 2 && s.Tasks[1].Prompts.SequenceEqual(["eins", "zwei"])),
            new("valid surrogate pair in prompt", "unicode", null, f => { File.WriteAllText(Path.Combine(f, "de.txt"), PromptsFileText); return Write(f, Encoding.UTF8.GetBytes(Suite(en: """{"id":"en","prompts":["smile \ud83d\ude00"]}"""))); },
                s => s.Tasks[0].Prompts[0] == "smile \U0001F600"),
            new("suite through a symlink given on the command line", "baseline", null, f =>
            {
                File.WriteAllText(Path.Combine(f, "de.txt"), PromptsFileText);
                var real = Write(f, Encoding.UTF8.GetBytes(Suite()));
                var link = Path.Combine(f, "link.json");
                File.CreateSymbolicLink(link, real);
                return link;
            }, s => s.Tasks.Count == 2),

            // Duplicate keys (the promptsFile pre-pass built a dictionary).
            Reject("duplicate key name", "duplicate key", "name", """{"name":"a","name":"b","tasks":[{"id":"en","prompts":["x"]}]}"""),
            Reject("duplicate key tasks", "duplicate key", "tasks", """{"name":"a","tasks":[{"id":"en","prompts":["x"]}],"tasks":[]}"""),
            Reject("duplicate key id in task", "duplicate key", "tasks[0].id", """{"name":"a","tasks":[{"id":"en","id":"de","prompts":["x"]}]}"""),
            Reject("duplicate key promptsFile", "duplicate key", "tasks[1].promptsFile", Suite(de: """{"id":"de","promptsFile":"de.txt","promptsFile":"de.txt"}""")),
            Reject("duplicate key prompts", "duplicate key", "tasks[0].prompts", Suite(en: """{"id":"en","prompts":["a"],"prompts":["b"]}""")),

            // BOM, encoding and syntax: every message names the field, syntax errors line and byte.
            new("UTF-8 BOM before a valid suite", "BOM refused", null, f => { File.WriteAllText(Path.Combine(f, "de.txt"), PromptsFileText); return Write(f, Bytes(bom, Suite())); }, s => s.Tasks.Count == 2),
            new("UTF-8 BOM before a suite without promptsFile", "BOM refused", null, f => Write(f, Bytes(bom, """{"name":"s","tasks":[{"id":"en","prompts":["x"]}]}""")), s => s.Tasks.Count == 1),
            RejectBytes("two BOMs", "raw JSON message", "$", Bytes(bom, bom, Suite())),
            RejectBytes("UTF-16 LE suite", "raw JSON message", "$", [0xFF, 0xFE, .. Encoding.Unicode.GetBytes(Suite())]),
            RejectBytes("invalid UTF-8 byte in name", "raw JSON message", "$", Bytes("""{"name":"a""", (byte)0xFF, "\",\"tasks\":[{\"id\":\"en\",\"prompts\":[\"x\"]}]}")),
            RejectBytes("overlong UTF-8 slash", "raw JSON message", "$", Bytes("""{"name":"a""", (byte)0xC0, (byte)0xAF, "\",\"tasks\":[{\"id\":\"en\",\"prompts\":[\"x\"]}]}")),
            RejectBytes("CESU-8 surrogate bytes in prompt", "raw JSON message", "$", Bytes("""{"name":"a","tasks":[{"id":"en","prompts":["x""", (byte)0xED, (byte)0xA0, (byte)0x80, "\"]}]}")),
            RejectBytes("raw NUL byte in JSON", "raw JSON message", "$", Bytes("{\"name\":\"a\",", (byte)0, "\"tasks\":[]}")),
            Reject("truncated JSON", "raw JSON message", "$", Suite()[..30]),
            Reject("trailing comma", "raw JSON message", "$", Suite().TrimEnd('}') + ",}"),
            Reject("comment", "raw JSON message", "$", "// suite\n" + Suite()),
            Reject("single quotes", "raw JSON message", "$", Suite().Replace('"', '\'')),
            Reject("bare NaN", "raw JSON message", "$", """{"name":NaN,"tasks":[]}"""),
            Reject("empty file", "raw JSON message", "$", ""),
            Reject("whitespace only", "raw JSON message", "$", " \n\t "),
            Reject("root is an array", "type", "$", "[" + Suite() + "]"),
            Reject("root is a string", "type", "$", "\"suite\""),
            Reject("nesting 100 deep in prompts", "depth says not valid JSON", "$", Suite(en: $$"""{"id":"en","prompts":{{new string('[', 100)}}{{new string(']', 100)}}}""")),
            Reject("nesting 100 deep in an unknown field", "depth says not valid JSON", "$", Suite(en: $$"""{"id":"en","prompts":["x"],"x":{{string.Concat(Enumerable.Repeat("{\"a\":", 100))}}1{{new string('}', 100)}}}""")),
            Reject("huge number as name", "type", "name", Suite(name: "1e400")),
            Reject("huge number as prompt", "type", "tasks[0].prompts[0]", Suite(en: """{"id":"en","prompts":[123456789012345678901234567890]}""")),
            Reject("typo promptfile", "unknown field", "tasks[1].promptfile", Suite(de: """{"id":"de","promptfile":"de.txt"}""")),
            Reject("65 tasks", "limits", "tasks", $$"""{"name":"s","tasks":[{{string.Join(",", Enumerable.Range(0, 65).Select(i => $$"""{"id":"t{{i}}","prompts":["x"]}"""))}}]}"""),

            // Lone surrogates (invalid UTF-16) in strings.
            Reject("lone high surrogate in prompt", "lone surrogate", "tasks[0].prompts[0]", Suite(en: """{"id":"en","prompts":["\ud800"]}""")),
            Reject("lone low surrogate in prompt", "lone surrogate", "tasks[0].prompts[1]", Suite(en: """{"id":"en","prompts":["ok","a\udc00b"]}""")),
            Reject("reversed surrogate pair in prompt", "lone surrogate", "tasks[0].prompts[0]", Suite(en: """{"id":"en","prompts":["\udc00\ud800"]}""")),
            Reject("high surrogate at end of prompt", "lone surrogate", "tasks[0].prompts[0]", Suite(en: """{"id":"en","prompts":["abc\ud83d"]}""")),
            Reject("lone surrogate in task id", "lone surrogate", "tasks[0].id", Suite(en: """{"id":"\ud800","prompts":["x"]}""")),
            Reject("lone surrogate in name", "lone surrogate", "name", Suite(name: "\"s\\udfff\"")),
            Reject("lone surrogate in training prompt", "lone surrogate", "tasks[0].trainingPrompts[0]", Suite(en: """{"id":"en","prompts":["x"],"trainingPrompts":["\ud800"]}""")),
            Reject("lone surrogate in promptsFile", "lone surrogate", "tasks[1].promptsFile", Suite(de: """{"id":"de","promptsFile":"de\ud800.txt"}""")),
            Reject("lone surrogate in unknown field name", "lone surrogate", "tasks[0]", Suite(en: """{"id":"en","prompts":["x"],"\ud800":1}""")),

            // Ids anchored at the true end.
            Reject("task id with trailing newline", "trailing newline", "tasks[0].id", Suite(en: """{"id":"en\n","prompts":["x"]}""")),
            Reject("task ids en and en-newline", "trailing newline", "tasks[1].id", """{"name":"s","tasks":[{"id":"en","prompts":["x"]},{"id":"en\n","prompts":["y"]}]}"""),
            Reject("task id with trailing CR", "trailing newline", "tasks[0].id", Suite(en: """{"id":"en\r","prompts":["x"]}""")),
            Reject("task id with trailing CRLF", "trailing newline", "tasks[0].id", Suite(en: """{"id":"en\r\n","prompts":["x"]}""")),
            Reject("task id with leading newline", "trailing newline", "tasks[0].id", Suite(en: """{"id":"\nen","prompts":["x"]}""")),
            Reject("task id with NUL", "ids", "tasks[0].id", Suite(en: """{"id":"en\u0000","prompts":["x"]}""")),
            Reject("task id with line separator", "ids", "tasks[0].id", Suite(en: """{"id":"en\u2028","prompts":["x"]}""")),
            Reject("task id Cyrillic look-alike", "ids", "tasks[0].id", Suite(en: """{"id":"\u0435n","prompts":["x"]}""")),
            Reject("task id Kelvin sign", "ids", "tasks[0].id", Suite(en: """{"id":"\u212A","prompts":["x"]}""")),
            Reject("task id 64 chars and a newline", "trailing newline", "tasks[0].id", Suite(en: $$"""{"id":"{{new string('a', 64)}}\n","prompts":["x"]}""")),
            Reject("task id traversal", "ids", "tasks[0].id", Suite(en: """{"id":"../en","prompts":["x"]}""")),

            // promptsFile: a plain file name of a regular file next to the suite.
            PromptsFileNamed("promptsFile dot-dot", "promptsFile name", "\"..\""),
            PromptsFileNamed("promptsFile dot", "promptsFile name", "\".\""),
            PromptsFileNamed("promptsFile empty", "promptsFile name", "\"\""),
            PromptsFileNamed("promptsFile whitespace", "promptsFile name", "\" \""),
            PromptsFileNamed("promptsFile sub-folder", "promptsFile name", "\"sub\"", f => Directory.CreateDirectory(Path.Combine(f, "sub"))),
            PromptsFileNamed("promptsFile path into sub-folder", "promptsFile name", "\"sub/de.txt\"", f => { Directory.CreateDirectory(Path.Combine(f, "sub")); File.WriteAllText(Path.Combine(f, "sub", "de.txt"), "x"); }),
            PromptsFileNamed("promptsFile parent path", "promptsFile name", "\"../de.txt\""),
            PromptsFileNamed("promptsFile absolute", "promptsFile name", "\"/etc/passwd\""),
            PromptsFileNamed("promptsFile backslash", "promptsFile name", "\"..\\\\de.txt\""),
            PromptsFileNamed("promptsFile NUL", "promptsFile name", "\"de.txt\\u0000.json\""),
            PromptsFileNamed("promptsFile trailing newline", "promptsFile name", "\"de.txt\\n\""),
            PromptsFileNamed("promptsFile number", "promptsFile type", "5"),
            PromptsFileNamed("promptsFile object", "promptsFile type", "{}"),
            PromptsFileNamed("promptsFile array", "promptsFile type", "[\"de.txt\"]"),
            PromptsFileNamed("promptsFile null", "promptsFile type", "null"),
            PromptsFileNamed("promptsFile true", "promptsFile type", "true"),
            PromptsFileNamed("promptsFile missing file", "promptsFile name", "\"nope.txt\""),
            PromptsFileNamed("promptsFile 300-character name", "promptsFile name", $"\"{new string('a', 300)}.txt\""),
            Reject("prompts and promptsFile together", "both fields", "tasks[1]", Suite(de: """{"id":"de","prompts":["inline"],"promptsFile":"de.txt"}""")),
            Reject("neither prompts nor promptsFile", "both fields", "tasks[1].prompts", Suite(de: """{"id":"de"}""")),
            Reject("promptsFile on trainingPrompts side", "unknown field", "tasks[1].trainingPromptsFile", Suite(de: """{"id":"de","promptsFile":"de.txt","trainingPromptsFile":"de.txt"}""")),

            // File types and links: never block, never read outside the suite's folder.
            PromptsFileNamed("promptsFile FIFO", "FIFO hang", "\"fifo\"", f => MakeFifo(Path.Combine(f, "fifo"))),
            PromptsFileNamed("promptsFile symlink to /dev/zero", "dev/zero OOM", "\"zero\"", f => File.CreateSymbolicLink(Path.Combine(f, "zero"), "/dev/zero")),
            PromptsFileNamed("promptsFile symlink to /dev/null", "device", "\"null\"", f => File.CreateSymbolicLink(Path.Combine(f, "null"), "/dev/null")),
            PromptsFileNamed("promptsFile symlink to /etc/shadow", "symlink leak", "\"shadow.txt\"", f => File.CreateSymbolicLink(Path.Combine(f, "shadow.txt"), "/etc/shadow")),
            PromptsFileNamed("promptsFile symlink to a secret outside the folder", "symlink leak", "\"secret.txt\"", f =>
            {
                var outside = Path.Combine(Path.GetDirectoryName(f)!, Path.GetFileName(f) + "-secret");
                File.WriteAllText(outside, "the secret\n");
                File.CreateSymbolicLink(Path.Combine(f, "secret.txt"), outside);
            }),
            PromptsFileNamed("promptsFile relative symlink out of the folder", "symlink leak", "\"up.txt\"", f => File.CreateSymbolicLink(Path.Combine(f, "up.txt"), "../../../../../../../../etc/hostname")),
            PromptsFileNamed("promptsFile symlink to a file in the folder", "symlink", "\"alias.txt\"", f => File.CreateSymbolicLink(Path.Combine(f, "alias.txt"), Path.Combine(f, "de.txt"))),
            PromptsFileNamed("promptsFile dangling symlink", "symlink", "\"dangling.txt\"", f => File.CreateSymbolicLink(Path.Combine(f, "dangling.txt"), Path.Combine(f, "nowhere"))),
            PromptsFileNamed("promptsFile symlink loop", "symlink", "\"loop.txt\"", f => File.CreateSymbolicLink(Path.Combine(f, "loop.txt"), Path.Combine(f, "loop.txt"))),
            PromptsFileNamed("promptsFile symlink to a directory", "symlink", "\"dir.txt\"", f => File.CreateSymbolicLink(Path.Combine(f, "dir.txt"), "/etc")),
            PromptsFileNamed("promptsFile over the size limit", "no size check", "\"big.txt\"", f => File.WriteAllText(Path.Combine(f, "big.txt"), string.Concat(Enumerable.Repeat(new string('x', 1000) + "\n", 1100)))),
            PromptsFileNamed("promptsFile sparse 1 GB file", "no size check", "\"sparse.txt\"", f =>
            {
                using var s = File.Create(Path.Combine(f, "sparse.txt"));
                s.SetLength(1L << 30);
            }),

            // Prompts file content: strict UTF-8, the same prompt rules as inline prompts.
            PromptsBytes("prompts file invalid UTF-8 on line 3", "replacement characters", "tasks[1].promptsFile", Bytes("eins\nzwei\ndr", (byte)0xFF, "i\n")),
            PromptsBytes("prompts file Latin-1", "replacement characters", "tasks[1].promptsFile", Encoding.Latin1.GetBytes("café\n")),
            PromptsBytes("prompts file UTF-16 with BOM", "replacement characters", "tasks[1].promptsFile", [0xFF, 0xFE, .. Encoding.Unicode.GetBytes("eins\n")]),
            PromptsBytes("prompts file CESU-8 surrogate", "replacement characters", "tasks[1].promptsFile", Bytes("a", (byte)0xED, (byte)0xA0, (byte)0x80, "\n")),
            PromptsBytes("prompts file truncated UTF-8 at end", "replacement characters", "tasks[1].promptsFile", Bytes("eins\nzw", (byte)0xC3)),
            PromptsBytes("prompts file empty", "limits", "tasks[1].promptsFile", []),
            PromptsBytes("prompts file blank lines only", "limits", "tasks[1].promptsFile", Bytes("\n  \n\t\n")),
            PromptsBytes("prompts file line over the prompt limit", "limits", "tasks[1].promptsFile", Bytes("ok\n", new string('p', 5000), "\n")),
            PromptsBytes("prompts file 300 lines", "limits", "tasks[1].promptsFile", Bytes(string.Concat(Enumerable.Range(0, 300).Select(i => $"p{i}\n")))),
            PromptsBytes("prompts file with UTF-8 BOM", "BOM", null, Bytes(bom, "eins\nzwei\n"), expectedPrompts: ["eins", "zwei"]),
            PromptsBytes("prompts file CRLF", "line ends", null, Bytes("eins\r\nzwei\r\n"), expectedPrompts: ["eins", "zwei"]),
            PromptsBytes("prompts file without final newline", "line ends", null, Bytes("eins\nzwei"), expectedPrompts: ["eins", "zwei"]),

            // The suite file itself.
            new("suite is a FIFO", "FIFO hang", "suite", f => { var p = Path.Combine(f, "suite.json"); MakeFifo(p); return p; }),
            new("suite is /dev/zero", "dev/zero OOM", "suite", _ => "/dev/zero"),
            new("suite is a directory", "type", "suite", f => { var p = Path.Combine(f, "suite.json"); Directory.CreateDirectory(p); return p; }),
            new("suite over the size limit", "no size check", "suite", f => Write(f, Encoding.UTF8.GetBytes($$"""{"name":"{{new string('n', 1100 * 1024)}}","tasks":[]}"""))),
            new("suite missing", "type", "suite", f => Path.Combine(f, "absent.json")),
        };
        return cases;
    }

    /// <summary>Creates a named pipe (<c>mkfifo</c>).</summary>
    public static void MakeFifo(string path)
    {
        using var mkfifo = Process.Start(new ProcessStartInfo("mkfifo", [path]) { UseShellExecute = false })!;
        mkfifo.WaitForExit();
        if (mkfifo.ExitCode != 0)
        {
            throw new InvalidOperationException($"mkfifo {path} failed");
        }
    }

    /// <summary>
    /// Opens and closes the write end of the corpus's FIFOs (<c>fifo</c>, <c>suite.json</c>) so that a reader blocked on
    /// one sees end of file. Call only when a reader is blocked: without one, opening the write end blocks too.
    /// </summary>
    public static void ReleaseFifos(string folder)
    {
        foreach (var fifo in new[] { "fifo", "suite.json" }.Select(n => Path.Combine(folder, n)).Where(p => new FileInfo(p) is { Exists: true, Length: 0 }))
        {
            using var writer = new FileStream(fifo, FileMode.Open, FileAccess.Write);
        }
    }
}

/// <summary>One hostile suite: <see cref="Arrange"/> lays it out in an empty folder and returns the path given to <c>--suite</c>.</summary>
/// <param name="Field">The field a correct refusal names (<c>$</c>: the document; <c>suite</c>: the file itself); null when it must be accepted.</param>
/// <param name="Check">For accepted cases, what the loaded suite must satisfy.</param>
internal sealed record HostileSuiteCase(string Name, string Finding, string? Field, Func<string, string> Arrange, Func<Core.Evaluation.SuiteDefinition, bool>? Check = null)
{
    public bool MustAccept => Field is null;

    public override string ToString() => Name;
}
