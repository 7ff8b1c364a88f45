using System.Text.Json.Nodes;
using Microsoft.ML.OnnxRuntimeGenAI;

namespace SpecFunctions.GenAi.Benchmarks;

/// <summary>
/// ONNX Runtime GenAI's view of a drafter/verifier pair: the verifier's own model folder (its <c>genai_config.json</c> as
/// exported, for the target-only arm) and a composite folder for built-in speculative decoding, which GenAI configures
/// with a <c>model.draft</c> decoder block beside the target's <c>model.decoder</c> and a <c>speculative</c> block.
/// </summary>
/// <remarks>
/// GenAI resolves every model file relative to the configuration's folder and refuses paths outside it, so the composite
/// folder holds copies of both graphs, each in a subfolder of its own (<c>target/</c>, <c>draft/</c>) with its external
/// data (ONNX Runtime resolves <c>model.onnx.data</c> beside the graph, and both exports usually use that one name), and
/// the verifier's tokenizer files.
/// </remarks>
internal static class GenAiFolders
{
    public const string ConfigFileName = "genai_config.json";

    /// <summary>
    /// Writes the composite speculative folder <paramref name="folder"/> from the two model folders: the verifier's
    /// configuration with the drafter's decoder block as <c>model.draft</c> and <c>speculative.max_draft_tokens</c> =
    /// <paramref name="gamma"/>. Both folders must hold a <c>genai_config.json</c> (decoder-only, separate key/value cache).
    /// </summary>
    public static string WriteSpeculative(string verifierFolder, string drafterFolder, string folder, int gamma)
    {
        var target = ReadConfig(verifierFolder);
        var draft = ReadConfig(drafterFolder);
        var targetDecoder = target["model"]?["decoder"] as JsonObject
            ?? throw new InvalidDataException($"{Path.Combine(verifierFolder, ConfigFileName)} has no model.decoder block");
        var draftDecoder = (draft["model"]?["decoder"] as JsonObject
            ?? throw new InvalidDataException($"{Path.Combine(drafterFolder, ConfigFileName)} has no model.decoder block")).DeepClone().AsObject();
        if (target["model"]!["vocab_size"]?.GetValue<int>() != draft["model"]!["vocab_size"]?.GetValue<int>())
        {
            throw new InvalidDataException("drafter and verifier configurations name different vocabulary sizes; GenAI needs one vocabulary");
        }

        Directory.CreateDirectory(folder);
        targetDecoder["filename"] = CopyGraph(verifierFolder, FileName(targetDecoder), folder, "target");
        draftDecoder["filename"] = CopyGraph(drafterFolder, FileName(draftDecoder), folder, "draft");
        foreach (var file in new[] { "tokenizer.json", "tokenizer_config.json" })
        {
            var source = Path.Combine(verifierFolder, file);
            if (File.Exists(source))
            {
                File.Copy(source, Path.Combine(folder, file), overwrite: true);
            }
        }

        target["model"]!["draft"] = draftDecoder;
        target["speculative"] = new JsonObject { ["max_draft_tokens"] = gamma };
        File.WriteAllText(Path.Combine(folder, ConfigFileName), target.ToJsonString(new System.Text.Json.JsonSerializerOptions { WriteIndented = true }));
        return folder;
    }

    /// <summary>
    /// Loads a GenAI model from <paramref name="folder"/>; <paramref name="intraOpThreads"/> &gt; 0 sets ONNX Runtime's
    /// intra-op thread count of every session (target and draft), as our engine's sessions get the same count.
    /// <paramref name="neverStop"/> replaces the end-of-sequence id with one that the caller knows the generations never
    /// produce, so that every generation runs to its <c>max_length</c>.
    /// </summary>
    public static Model Load(string folder, int intraOpThreads, int? neverStop = null)
    {
        using var config = new Config(folder);
        var model = new JsonObject();
        if (intraOpThreads > 0)
        {
            var options = new JsonObject { ["intra_op_num_threads"] = intraOpThreads };
            model["decoder"] = new JsonObject { ["session_options"] = options.DeepClone() };
            if (ReadConfig(folder)["model"]?["draft"] is not null)
            {
                model["draft"] = new JsonObject { ["session_options"] = options.DeepClone() };
            }
        }

        if (neverStop is not null)
        {
            // GenAI has no "ignore EOS" search option: min_length would mask the token's logit and change the argmax,
            // an id outside the vocabulary is refused and an empty list falls back to the pad id.
            model["eos_token_id"] = neverStop;
        }

        if (model.Count > 0)
        {
            config.Overlay(new JsonObject { ["model"] = model }.ToJsonString());
        }

        return new Model(config);
    }

    private static JsonObject ReadConfig(string folder)
    {
        var path = Path.Combine(folder, ConfigFileName);
        if (!File.Exists(path))
        {
            throw new FileNotFoundException($"'{folder}' has no {ConfigFileName}: ONNX Runtime GenAI cannot load it", path);
        }

        return JsonNode.Parse(File.ReadAllText(path)) as JsonObject ?? throw new InvalidDataException($"{path} is not a JSON object");
    }

    /// <summary>
    /// Copies the graph <paramref name="fileName"/> of <paramref name="source"/> and its external data (the files beside it
    /// under its stem, as the product's model identity counts them: <c>model.onnx.data</c>, <c>model.onnx_data</c>,
    /// <c>model.data</c>) into <paramref name="folder"/>/<paramref name="subfolder"/>; returns the graph's path relative to
    /// <paramref name="folder"/>, as the configuration names it.
    /// </summary>
    private static string CopyGraph(string source, string fileName, string folder, string subfolder)
    {
        var target = Directory.CreateDirectory(Path.Combine(folder, subfolder)).FullName;
        var stem = Path.GetFileNameWithoutExtension(fileName);
        var files = Directory.EnumerateFiles(source, stem + "*")
            .Where(f => !f.EndsWith(".json", StringComparison.OrdinalIgnoreCase))
            .Append(Path.Combine(source, fileName))
            .Distinct(StringComparer.Ordinal);
        foreach (var file in files)
        {
            File.Copy(file, Path.Combine(target, Path.GetFileName(file)), overwrite: true);
        }

        return $"{subfolder}/{fileName}";
    }

    private static string FileName(JsonObject decoder) =>
        decoder["filename"]?.GetValue<string>() ?? throw new InvalidDataException("a decoder block has no filename");
}
