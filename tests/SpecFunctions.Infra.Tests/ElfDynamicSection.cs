using System.Buffers.Binary;
using System.Text;

namespace SpecFunctions.Infra.Tests;

/// <summary>
/// The dynamic section of a 64-bit little-endian ELF shared library, as <c>readelf -d</c> shows it: the libraries it
/// links (<c>DT_NEEDED</c>) and its own soname (<c>DT_SONAME</c>). Enough to tell which CUDA major a native build needs
/// without the binutils on the machine.
/// </summary>
internal sealed record ElfDynamicSection(string? Soname, IReadOnlyList<string> Needed)
{
    private const uint SectionTypeDynamic = 6;
    private const long TagNull = 0;
    private const long TagNeeded = 1;
    private const long TagSoname = 14;

    public static ElfDynamicSection Read(string path)
    {
        var bytes = File.ReadAllBytes(path);
        var span = bytes.AsSpan();
        if (bytes.Length < 64 || !span[..4].SequenceEqual("\u007fELF"u8))
        {
            throw new InvalidDataException($"{path} is not an ELF file.");
        }

        if (bytes[4] != 2 || bytes[5] != 1)
        {
            throw new InvalidDataException($"{path} is not a 64-bit little-endian ELF file (class {bytes[4]}, data {bytes[5]}).");
        }

        var sectionHeaders = (int)BinaryPrimitives.ReadUInt64LittleEndian(span[0x28..]);
        var sectionHeaderSize = BinaryPrimitives.ReadUInt16LittleEndian(span[0x3A..]);
        var sectionCount = BinaryPrimitives.ReadUInt16LittleEndian(span[0x3C..]);
        ReadOnlySpan<byte> Section(int index) => bytes.AsSpan(sectionHeaders + (index * sectionHeaderSize), sectionHeaderSize);

        for (var i = 0; i < sectionCount; i++)
        {
            var header = Section(i);
            if (BinaryPrimitives.ReadUInt32LittleEndian(header[4..]) != SectionTypeDynamic)
            {
                continue;
            }

            var offset = (int)BinaryPrimitives.ReadUInt64LittleEndian(header[0x18..]);
            var size = (int)BinaryPrimitives.ReadUInt64LittleEndian(header[0x20..]);
            var strings = Section((int)BinaryPrimitives.ReadUInt32LittleEndian(header[0x28..]));
            var stringsOffset = (int)BinaryPrimitives.ReadUInt64LittleEndian(strings[0x18..]);
            string Text(long at)
            {
                var start = stringsOffset + (int)at;
                return Encoding.ASCII.GetString(bytes, start, Array.IndexOf(bytes, (byte)0, start) - start);
            }

            string? soname = null;
            var needed = new List<string>();
            for (var entry = offset; entry + 16 <= offset + size; entry += 16)
            {
                var tag = BinaryPrimitives.ReadInt64LittleEndian(bytes.AsSpan(entry));
                var value = BinaryPrimitives.ReadInt64LittleEndian(bytes.AsSpan(entry + 8));
                if (tag == TagNull)
                {
                    break;
                }

                if (tag == TagNeeded)
                {
                    needed.Add(Text(value));
                }
                else if (tag == TagSoname)
                {
                    soname = Text(value);
                }
            }

            return new ElfDynamicSection(soname, needed);
        }

        throw new InvalidDataException($"{path} has no dynamic section.");
    }
}
