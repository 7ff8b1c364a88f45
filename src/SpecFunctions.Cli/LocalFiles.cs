using System.Runtime.InteropServices;

namespace SpecFunctions.Cli;

/// <summary>Reads files named by users without blocking on FIFOs, reading devices or reading more than a limit.</summary>
internal static partial class LocalFiles
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

        // .NET has no public API for the file type, and opening a FIFO to ask would block. The runtime's own native
        // shim (libSystem.Native, shipped with every .NET on Unix) exports stat/lstat with a fixed, platform-independent
        // layout: int32 Flags, int32 Mode, uint32 Uid, uint32 Gid, int64 Size, ... The buffer is larger than that struct.
        var status = new byte[256];
        if ((followLink ? SystemStat(path, status) : SystemLStat(path, status)) != 0)
        {
            return (Kind.Missing, 0);
        }

        var mode = BitConverter.ToInt32(status, 4);
        var size = BitConverter.ToInt64(status, 16);
        var kind = (mode & 0xF000) switch
        {
            0x8000 => Kind.RegularFile,
            0x4000 => Kind.Directory,
            0xA000 => Kind.SymbolicLink,
            0x1000 => Kind.Fifo,
            0x2000 => Kind.CharacterDevice,
            0x6000 => Kind.BlockDevice,
            0xC000 => Kind.Socket,
            _ => Kind.Other,
        };
        return (kind, size);
    }

    [LibraryImport("libSystem.Native", EntryPoint = "SystemNative_Stat", StringMarshalling = StringMarshalling.Utf8)]
    private static partial int SystemStat(string path, [Out] byte[] status);

    [LibraryImport("libSystem.Native", EntryPoint = "SystemNative_LStat", StringMarshalling = StringMarshalling.Utf8)]
    private static partial int SystemLStat(string path, [Out] byte[] status);
}
