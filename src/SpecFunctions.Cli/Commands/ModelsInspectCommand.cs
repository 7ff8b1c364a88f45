using System.CommandLine;
using System.Globalization;
using Microsoft.ML.OnnxRuntime;
using SpecFunctions.Onnx;
using SpecFunctions.Onnx.Tokenizers;

namespace SpecFunctions.Cli.Commands;

/// <summary>
/// <c>specfn models inspect DIR [--tokenizer FILE]</c>: loads a model folder as <c>run</c> would (manifest or derived from
/// <c>genai_config.json</c> / optimum's <c>config.json</c>) and prints what was derived; a folder that cannot be used gets
/// one line naming the file and the reason, and exit code 2.
/// </summary>
internal static class ModelsInspectCommand
{
    public static Command Create()
    {
        var folder = new Argument<DirectoryInfo>("folder") { Description = "Model folder (specfn-model.json, genai_config.json or optimum's config.json; ONNX graph; tokenizer.json)" };
        var tokenizer = new Option<FileInfo?>("--tokenizer") { Description = "A tokenizer.json to use instead of the folder's (for exports whose tokenizer does not match the graph)" };
        var command = new Command("inspect", "Describe a model folder as specfn reads it: family, format, data type, cache layout and shapes, tokenizer, vocabulary; or why it is refused.")
        {
            folder,
            tokenizer,
        };
        command.SetAction(parse => Run(parse.GetValue(folder)!.FullName, parse.GetValue(tokenizer)?.FullName, Console.Out, Console.Error));
        return command;
    }

    internal static int Run(string folder, string? tokenizerFile, TextWriter output, TextWriter error)
    {
        OnnxLanguageModel model;
        try
        {
            model = OnnxLanguageModel.Load(folder, new OnnxModelOptions { TokenizerFile = tokenizerFile, IoBinding = false });
        }
        catch (Exception ex) when (ex is ModelLoadException or OnnxRuntimeException)
        {
            error.WriteLine($"specfn: refused: {OneLine(ex.Message)}");
            return ExitCodes.Usage;
        }

        using (model)
        {
            var description = ModelFolder.Describe(folder, tokenizerFile);
            var manifest = model.Manifest;
            var n = CultureInfo.InvariantCulture;
            void Line(string key, string value) => output.WriteLine(string.Create(n, $"{key,-12}{value}"));
            Line("folder", model.Folder);
            Line("source", description.Derived ? $"{string.Join(" + ", description.Sources)} (derived; no specfn-model.json)" : description.Sources[0]);
            Line("name", manifest.Name);
            Line("family", manifest.Family);
            Line("format", manifest.Format);
            var stem = Path.GetFileNameWithoutExtension(manifest.ModelFile);
            var external = Directory.EnumerateFiles(model.Folder, stem + "*")
                .Select(Path.GetFileName)
                .Where(f => f != manifest.ModelFile && !f!.EndsWith(".json", StringComparison.OrdinalIgnoreCase))
                .Order(StringComparer.Ordinal)
                .ToList();
            Line("model file", $"{manifest.ModelFile}{(external.Count > 0 ? $" + external data {string.Join(", ", external)}" : string.Empty)}");
            if (model is DecoderWithPastOnnxModel decoder)
            {
                Line("dtype", $"cache {TypeName(decoder.CacheElementType)}, logits {TypeName(decoder.LogitsElementType)}");
                var shape = string.Join(", ", decoder.CacheTensorShape.Select(d => d < 0 ? "past" : d.ToString(n)));
                Line("cache", decoder.Combined
                    ? $"combined: {decoder.LayerCount} layers × {decoder.PastNames[0]}… [{shape}] (key, value)"
                    : $"separate: {decoder.LayerCount} layers × {decoder.PastNames[0]}, {decoder.PastNames[1]}… [{shape}]");
            }
            else if (manifest.Window is { } window)
            {
                Line("window", window.ToString(n));
            }

            var scheme = model.Tokenizer is HuggingFaceTokenizer hf
                ? $"{hf.Kind} ({hf.Scheme}, {hf.VocabularySize.ToString("N0", n)} ids) from {description.TokenizerPath}"
                : model.Tokenizer.Kind;
            Line("tokenizer", scheme);
            Line("vocabulary", manifest.VocabularySize.ToString("N0", n));
            Line("context", manifest.ContextLength.ToString("N0", n));
            Line("eos ids", manifest.EosTokenIds.Length == 0 ? "none" : string.Join(", ", manifest.EosTokenIds));
            Line("bos id", manifest.BosTokenId is { } bos ? $"{bos} (prepended)" : "none");
            Line("provider", model.ExecutionProvider);
        }

        return ExitCodes.Ok;
    }

    private static string TypeName(Microsoft.ML.OnnxRuntime.Tensors.TensorElementType type) =>
        type == Microsoft.ML.OnnxRuntime.Tensors.TensorElementType.Float16 ? "float16" : "float32";

    private static string OneLine(string message) =>
        string.Join(' ', message.ReplaceLineEndings("\n").Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries));
}
