using System.Buffers.Binary;

namespace Qcow2Mount.Mounting.Partitions;

/// <summary>One 16-byte partition entry of an MBR or extended boot record (little-endian, sectors of 512 bytes).</summary>
internal readonly struct MbrEntry
{
    public const int Size = 16;

    /// <summary>Where the four entries start in the sector; the boot signature 55 AA follows them at 510.</summary>
    public const int TableOffset = 446;

    private const int BootIndicatorOffset = 0;
    private const int TypeOffset = 4;
    private const int StartLbaOffset = 8;
    private const int SectorCountOffset = 12;

    public const byte ProtectiveGptType = 0xEE;

    public MbrEntry(byte bootIndicator, byte type, uint startLba, uint sectorCount)
    {
        BootIndicator = bootIndicator;
        Type = type;
        StartLba = startLba;
        SectorCount = sectorCount;
    }

    /// <summary>0x80 for the active partition, 0 otherwise; anything else means the sector is no partition table.</summary>
    public byte BootIndicator { get; }
    public byte Type { get; }

    /// <summary>First sector: from the disk start in the MBR, from the EBR (data) or the extended partition (link) in an EBR.</summary>
    public uint StartLba { get; }
    public uint SectorCount { get; }

    public bool IsEmpty => SectorCount == 0 || Type == 0;

    /// <summary>DOS, Windows (LBA) and Linux extended partitions: containers of a chain of EBRs.</summary>
    public bool IsExtended => Type is 0x05 or 0x0F or 0x85;

    public static MbrEntry Parse(ReadOnlySpan<byte> entry) => new(
        entry[BootIndicatorOffset],
        entry[TypeOffset],
        BinaryPrimitives.ReadUInt32LittleEndian(entry[StartLbaOffset..]),
        BinaryPrimitives.ReadUInt32LittleEndian(entry[SectorCountOffset..]));

    /// <summary>The four entries of a boot record sector.</summary>
    public static MbrEntry[] ParseTable(ReadOnlySpan<byte> sector)
    {
        var entries = new MbrEntry[4];
        for (int i = 0; i < 4; i++)
        {
            entries[i] = Parse(sector.Slice(TableOffset + (i * Size), Size));
        }

        return entries;
    }

    public static bool HasBootSignature(ReadOnlySpan<byte> sector) => sector.Length >= 512 && sector[510] == 0x55 && sector[511] == 0xAA;

    public void WriteTo(Span<byte> entry)
    {
        entry[..Size].Clear();
        entry[BootIndicatorOffset] = BootIndicator;
        entry[TypeOffset] = Type;
        BinaryPrimitives.WriteUInt32LittleEndian(entry[StartLbaOffset..], StartLba);
        BinaryPrimitives.WriteUInt32LittleEndian(entry[SectorCountOffset..], SectorCount);
    }
}
