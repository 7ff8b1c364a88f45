namespace SpecFunctions.Core.Evaluation;

/// <summary>
/// Where the <c>promptsFile</c> names of a suite file are read from (the CLI: the suite's folder). The parser has
/// already checked that a name is a plain file name; the source decides what it may open.
/// </summary>
public interface IPromptsFileSource
{
    /// <summary>
    /// Reads the file <paramref name="fileName"/> if it is a regular file of at most <paramref name="maxBytes"/> bytes;
    /// otherwise returns false with <paramref name="problem"/>, a phrase that follows the quoted file name
    /// ("is a symbolic link; …"). Never blocks on a FIFO or device and never reads more than <paramref name="maxBytes"/> + 1 bytes.
    /// </summary>
    bool TryRead(string fileName, int maxBytes, out byte[] content, out string problem);
}
