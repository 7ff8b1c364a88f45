using Microsoft.Extensions.Logging;

namespace SpecFunctions.Onnx;

internal static partial class Logs
{
    [LoggerMessage(EventId = 3001, Level = LogLevel.Warning,
        Message = "{Device} execution provider unavailable for {ModelPath} (missing library: {MissingLibrary}); falling back to CPU. ONNX Runtime said: {Reason}")]
    public static partial void DeviceFallback(this ILogger logger, string device, string modelPath, string missingLibrary, string reason);

    [LoggerMessage(EventId = 3002, Level = LogLevel.Information,
        Message = "Loaded {ModelName} ({Format}, vocabulary {VocabularySize}) from {Folder} on {ExecutionProvider}")]
    public static partial void ModelLoaded(this ILogger logger, string modelName, string format, int vocabularySize, string folder, string executionProvider);
}
