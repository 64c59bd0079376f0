using System.Buffers.Binary;

namespace Qcow2Mount.Mounting.Partitions;

/// <summary>A GPT header (UEFI 2.10 §5.3.2), little-endian, at LBA 1 (primary) or the last LBA (backup).</summary>
internal readonly struct GptHeader
{
    /// <summary>Bytes of the header as UEFI defines it; <see cref="HeaderSize"/> may be larger, up to a sector.</summary>
    public const int MinSize = 92;
    public const ulong Signature = 0x5452_4150_2049_4645; // "EFI PART"

    private const int SignatureOffset = 0;
    private const int HeaderSizeOffset = 12;
    private const int HeaderCrcOffset = 16;
    private const int MyLbaOffset = 24;
    private const int AlternateLbaOffset = 32;
    private const int FirstUsableLbaOffset = 40;
    private const int LastUsableLbaOffset = 48;
    private const int DiskGuidOffset = 56;
    private const int EntriesLbaOffset = 72;
    private const int EntryCountOffset = 80;
    private const int EntrySizeOffset = 84;
    private const int EntriesCrcOffset = 88;

    /// <summary>Largest entry array this reader accepts (8192 entries of 128 bytes; tools write 128 entries).</summary>
    public const long MaxEntryArrayBytes = 1 << 20;

    public ulong SignatureValue { get; init; }
    public uint HeaderSize { get; init; }
    public uint HeaderCrc { get; init; }
    public ulong MyLba { get; init; }
    public ulong AlternateLba { get; init; }
    public ulong FirstUsableLba { get; init; }
    public ulong LastUsableLba { get; init; }
    public Guid DiskGuid { get; init; }
    public ulong EntriesLba { get; init; }
    public uint EntryCount { get; init; }
    public uint EntrySize { get; init; }
    public uint EntriesCrc { get; init; }

    public long EntryArrayBytes => (long)EntryCount * EntrySize;

    public static GptHeader Parse(ReadOnlySpan<byte> sector) => new()
    {
        SignatureValue = BinaryPrimitives.ReadUInt64LittleEndian(sector[SignatureOffset..]),
        HeaderSize = BinaryPrimitives.ReadUInt32LittleEndian(sector[HeaderSizeOffset..]),
        HeaderCrc = BinaryPrimitives.ReadUInt32LittleEndian(sector[HeaderCrcOffset..]),
        MyLba = BinaryPrimitives.ReadUInt64LittleEndian(sector[MyLbaOffset..]),
        AlternateLba = BinaryPrimitives.ReadUInt64LittleEndian(sector[AlternateLbaOffset..]),
        FirstUsableLba = BinaryPrimitives.ReadUInt64LittleEndian(sector[FirstUsableLbaOffset..]),
        LastUsableLba = BinaryPrimitives.ReadUInt64LittleEndian(sector[LastUsableLbaOffset..]),
        DiskGuid = new Guid(sector.Slice(DiskGuidOffset, 16)),
        EntriesLba = BinaryPrimitives.ReadUInt64LittleEndian(sector[EntriesLbaOffset..]),
        EntryCount = BinaryPrimitives.ReadUInt32LittleEndian(sector[EntryCountOffset..]),
        EntrySize = BinaryPrimitives.ReadUInt32LittleEndian(sector[EntrySizeOffset..]),
        EntriesCrc = BinaryPrimitives.ReadUInt32LittleEndian(sector[EntriesCrcOffset..]),
    };

    /// <summary>
    /// Why the header read from <paramref name="lba"/> of a disk of <paramref name="diskSectors"/> sectors cannot be
    /// used, or null when it can (the entry array is checked separately). The CRC covers <see cref="HeaderSize"/>
    /// bytes with its own field taken as zero.
    /// </summary>
    public static string? Validate(ReadOnlySpan<byte> sector, ulong lba, ulong diskSectors)
    {
        var header = Parse(sector);
        if (header.SignatureValue != Signature)
        {
            return "no \"EFI PART\" signature";
        }

        if (header.HeaderSize < MinSize || header.HeaderSize > sector.Length)
        {
            return $"header size {header.HeaderSize} is outside {MinSize}..{sector.Length}";
        }

        Span<byte> copy = stackalloc byte[(int)header.HeaderSize];
        sector[..(int)header.HeaderSize].CopyTo(copy);
        BinaryPrimitives.WriteUInt32LittleEndian(copy[HeaderCrcOffset..], 0);
        uint crc = Crc32.Compute(copy);
        if (crc != header.HeaderCrc)
        {
            return $"header CRC32 is 0x{header.HeaderCrc:x8}, the header's bytes give 0x{crc:x8}";
        }

        if (header.MyLba != lba)
        {
            return $"header says it lies at LBA {header.MyLba}, but was read from LBA {lba}";
        }

        if (header.FirstUsableLba > header.LastUsableLba || header.LastUsableLba >= diskSectors)
        {
            return $"usable LBAs {header.FirstUsableLba}..{header.LastUsableLba} do not fit the disk of {diskSectors} sectors";
        }

        if (header.EntrySize < 128 || header.EntrySize > 4096 || (header.EntrySize & (header.EntrySize - 1)) != 0)
        {
            return $"partition entry size {header.EntrySize} is not 128 times a power of two (at most 4096)";
        }

        if (header.EntryArrayBytes > MaxEntryArrayBytes)
        {
            return $"{header.EntryCount} partition entries ({header.EntryArrayBytes} bytes) exceed the {MaxEntryArrayBytes} bytes this reader accepts";
        }

        ulong arraySectors = (ulong)((header.EntryArrayBytes + sector.Length - 1) / sector.Length);
        if (header.EntriesLba < 1 || header.EntriesLba >= diskSectors || arraySectors > diskSectors - header.EntriesLba)
        {
            return $"partition entry array at LBA {header.EntriesLba} ({arraySectors} sectors) lies outside the disk";
        }

        return null;
    }
}
