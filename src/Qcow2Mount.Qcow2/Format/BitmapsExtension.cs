using System.Buffers.Binary;

namespace Qcow2Mount.Qcow2.Format;

/// <summary>
/// The data of the bitmaps header extension (0x23852875): how many persistent dirty bitmaps the image has and
/// where their directory lies. 24 bytes: nb_bitmaps u32, reserved u32, bitmap_directory_size u64,
/// bitmap_directory_offset u64.
/// </summary>
public readonly record struct BitmapsExtension(uint Count, ulong DirectorySize, ulong DirectoryOffset)
{
    public const int Size = 24;
    public const uint MaxBitmaps = 65535;
    public const ulong MaxDirectorySize = 64UL << 20;

    private const int OffCount = 0, OffReserved = 4, OffDirectorySize = 8, OffDirectoryOffset = 16;

    /// <summary>Reads the extension's data; null when it is shorter than the 24 bytes the spec requires.</summary>
    public static BitmapsExtension? Parse(ReadOnlySpan<byte> data) =>
        data.Length < Size
            ? null
            : new BitmapsExtension(
                BinaryPrimitives.ReadUInt32BigEndian(data[OffCount..]),
                BinaryPrimitives.ReadUInt64BigEndian(data[OffDirectorySize..]),
                BinaryPrimitives.ReadUInt64BigEndian(data[OffDirectoryOffset..]));

    public void WriteTo(Span<byte> destination)
    {
        BinaryPrimitives.WriteUInt32BigEndian(destination[OffCount..], Count);
        BinaryPrimitives.WriteUInt32BigEndian(destination[OffReserved..], 0);
        BinaryPrimitives.WriteUInt64BigEndian(destination[OffDirectorySize..], DirectorySize);
        BinaryPrimitives.WriteUInt64BigEndian(destination[OffDirectoryOffset..], DirectoryOffset);
    }

    /// <summary>Why the directory cannot be read from a file of <paramref name="fileLength"/> bytes, or null when it can.</summary>
    public string? Validate(int clusterSize, long fileLength)
    {
        // Compared without adding: a huge offset plus the size would wrap around 2^64.
        if (Count > MaxBitmaps || DirectorySize > MaxDirectorySize || DirectoryOffset % (ulong)clusterSize != 0
            || DirectoryOffset > (ulong)fileLength || DirectorySize > (ulong)fileLength - DirectoryOffset)
        {
            return $"bitmap directory at 0x{DirectoryOffset:x} (+{DirectorySize} bytes) is invalid";
        }

        return null;
    }
}
