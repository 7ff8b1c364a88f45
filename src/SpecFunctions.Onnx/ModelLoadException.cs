namespace SpecFunctions.Onnx;

/// <summary>
/// A model folder could not be used: a missing or corrupt file, an invalid manifest, a graph that does not match the
/// declared format, an incompatible drafter/verifier pair, or a required device that cannot be loaded.
/// The message names the file (or folder) and the cause.
/// </summary>
public class ModelLoadException : Exception
{
    public ModelLoadException(string path, string message, Exception? innerException = null)
        : base($"{path}: {message}", innerException)
    {
        Path = path;
    }

    /// <summary>The file or folder at fault.</summary>
    public string Path { get; }
}

/// <summary>
/// <see cref="OnnxModelOptions.RequireDevice"/> was set and the requested execution provider could not be loaded.
/// </summary>
public sealed class ExecutionProviderUnavailableException : ModelLoadException
{
    public ExecutionProviderUnavailableException(string path, OnnxDevice device, string missingLibrary, Exception innerException)
        : base(path, $"the {device.ToString().ToLowerInvariant()} execution provider could not be loaded (missing: {missingLibrary}) and the device is required: {innerException.Message}", innerException)
    {
        Device = device;
        MissingLibrary = missingLibrary;
    }

    public OnnxDevice Device { get; }

    /// <summary>The shared library named in ONNX Runtime's error, or <c>unknown</c>.</summary>
    public string MissingLibrary { get; }
}
