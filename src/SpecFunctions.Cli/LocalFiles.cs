using Mono.Unix.Native;

namespace SpecFunctions.Cli;

/// <summary>Reads files named by users without blocking on FIFOs, reading devices or reading more than a limit.</summary>
internal static class LocalFiles
{
    /// <summary>What a path names, from <c>lstat</c>/<c>stat</c>.</summary>
    public enum Kind
    {
        Missing,
        RegularFile,
        Directory,
        SymbolicLink,
        Fifo,
        CharacterDevice,
        BlockDevice,
        Socket,
        Other,
    }

    /// <summary>
    /// Reads <paramref name="path"/> if it is a regular file (through a symbolic link only when
    /// <paramref name="followLink"/>) of at most <paramref name="maxBytes"/> bytes; otherwise false and a phrase that
    /// follows the file's name ("is a FIFO, not a regular file"). The type and size are checked before opening, and the
    /// read stops after <paramref name="maxBytes"/> + 1 bytes in case the file grows meanwhile.
    /// </summary>
    public static bool TryReadRegularFile(string path, bool followLink, int maxBytes, out byte[] content, out string problem)
    {
        content = [];
        var (kind, size) = Stat(path, followLink);
        problem = kind switch
        {
            Kind.RegularFile when size > maxBytes => $"is {size} bytes; the limit is {maxBytes} bytes",
            Kind.RegularFile => "",
            Kind.Missing => "does not exist",
            Kind.SymbolicLink => "is a symbolic link; give the file itself (a link could lead out of the suite's folder)",
            Kind.Directory => "is a directory, not a regular file",
            Kind.Fifo => "is a FIFO (named pipe), not a regular file",
            Kind.CharacterDevice or Kind.BlockDevice => "is a device, not a regular file",
            Kind.Socket => "is a socket, not a regular file",
            _ => "is not a regular file",
        };
        if (problem.Length > 0)
        {
            return false;
        }

        try
        {
            using var stream = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.Read, bufferSize: 1, FileOptions.SequentialScan);
            var buffer = new byte[(int)Math.Min(size, maxBytes) + 1];
            var length = 0;
            int read;
            while ((read = stream.Read(buffer, length, buffer.Length - length)) > 0)
            {
                length += read;
                if (length == buffer.Length)
                {
                    if (length > maxBytes)
                    {
                        problem = $"is larger than the limit of {maxBytes} bytes";
                        return false;
                    }

                    Array.Resize(ref buffer, Math.Min(buffer.Length * 2, maxBytes + 1));
                }
            }

            content = buffer[..length];
            return true;
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
        {
            problem = ex is UnauthorizedAccessException ? "cannot be read: permission denied" : "cannot be read: " + ex.Message;
            return false;
        }
    }

    /// <summary>The kind and size of <paramref name="path"/>; a symbolic link itself unless <paramref name="followLink"/>.</summary>
    public static (Kind Kind, long Size) Stat(string path, bool followLink)
    {
        if (OperatingSystem.IsWindows())
        {
            // No FIFOs or device nodes in a Windows folder; links are reparse points.
            var info = new FileInfo(path);
            if (!followLink && info.LinkTarget is not null)
            {
                return (Kind.SymbolicLink, 0);
            }

            return Directory.Exists(path) ? (Kind.Directory, 0) : info.Exists ? (Kind.RegularFile, info.Length) : (Kind.Missing, 0);
        }

        // .NET has no public API for the file type, and opening a FIFO to ask would block: stat/lstat through Mono.Unix.
        var result = followLink ? Syscall.stat(path, out var status) : Syscall.lstat(path, out status);
        if (result != 0)
        {
            return (Kind.Missing, 0);
        }

        var kind = (status.st_mode & FilePermissions.S_IFMT) switch
        {
            FilePermissions.S_IFREG => Kind.RegularFile,
            FilePermissions.S_IFDIR => Kind.Directory,
            FilePermissions.S_IFLNK => Kind.SymbolicLink,
            FilePermissions.S_IFIFO => Kind.Fifo,
            FilePermissions.S_IFCHR => Kind.CharacterDevice,
            FilePermissions.S_IFBLK => Kind.BlockDevice,
            FilePermissions.S_IFSOCK => Kind.Socket,
            _ => Kind.Other,
        };
        return (kind, status.st_size);
    }
}
