namespace Qcow2Mount.Mounting.Partitions;

/// <summary>Which table a disk has.</summary>
public enum PartitionScheme
{
    /// <summary>No table, or one that does not parse: the reason is in <see cref="PartitionTable.Notes"/>.</summary>
    None,
    Mbr,
    Gpt,
}

/// <summary>Where an MBR partition sits: a primary slot, the extended container, or a logical partition in its chain.</summary>
public enum PartitionRole
{
    Primary,

    /// <summary>The container of the logical partitions; listed, but not shown as a file (it holds no file system).</summary>
    Extended,
    Logical,
}

/// <summary>
/// One partition of a guest disk, numbered as Linux numbers it: MBR primary slots 1-4 and logical partitions
/// from 5 in chain order; GPT entry index + 1. Offsets and lengths are in bytes on the whole disk.
/// </summary>
public sealed record Partition
{
    public required int Number { get; init; }
    public required long Offset { get; init; }
    public required long Length { get; init; }
    public PartitionRole Role { get; init; } = PartitionRole.Primary;

    /// <summary>The MBR type byte (0x07, 0x83...); null for GPT.</summary>
    public byte? MbrType { get; init; }

    /// <summary>The GPT partition type GUID; null for MBR.</summary>
    public Guid? GptType { get; init; }

    /// <summary>The GPT unique partition GUID (PARTUUID); null for MBR.</summary>
    public Guid? GptId { get; init; }

    /// <summary>The GPT partition name; empty for MBR.</summary>
    public string Name { get; init; } = string.Empty;

    /// <summary>MBR boot indicator 0x80, or GPT attribute bit 2 (legacy BIOS bootable).</summary>
    public bool Bootable { get; init; }

    /// <summary>True when the table said the partition runs past the disk's end and it was cut there, as Linux does.</summary>
    public bool Truncated { get; init; }

    /// <summary>A human name for the type, e.g. "Linux", "NTFS/exFAT/HPFS", "EFI System".</summary>
    public string TypeName => MbrType is { } type ? PartitionTypes.MbrName(type) : PartitionTypes.GptName(GptType ?? Guid.Empty);

    /// <summary>The file the mount shows for it, e.g. <c>p1.raw</c>.</summary>
    public string FileName => $"p{Number}.raw";

    public long End => Offset + Length;
}
