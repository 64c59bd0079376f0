using Qcow2Mount.Qcow2;

namespace Qcow2Mount.Mounting.Partitions;

/// <summary>
/// The partition table of a guest disk, read as Linux reads it (block/partitions/msdos.c and efi.c), with bounded
/// work: at most <see cref="MaxPartitionNumber"/> partitions, <see cref="MaxExtendedRecords"/> extended boot records,
/// and a GPT entry array of at most <see cref="GptHeader.MaxEntryArrayBytes"/>. A hostile table never throws here:
/// what was refused, cut or doubtful is said in <see cref="Notes"/>, for the mount's log.
/// </summary>
public sealed class PartitionTable
{
    /// <summary>Linux gives a disk at most 255 partition minors (DISK_MAX_PARTS 256, minus the whole disk).</summary>
    public const int MaxPartitionNumber = 255;

    /// <summary>Extended boot records read at most, so a chain that loops or never ends stops.</summary>
    public const int MaxExtendedRecords = 1024;

    internal PartitionTable(PartitionScheme scheme, int sectorSize, IReadOnlyList<Partition> partitions, IReadOnlyList<string> notes,
        Guid? diskGuid = null, uint? diskSignature = null)
    {
        Scheme = scheme;
        SectorSize = sectorSize;
        Partitions = partitions;
        Notes = notes;
        DiskGuid = diskGuid;
        DiskSignature = diskSignature;
    }

    public PartitionScheme Scheme { get; }

    /// <summary>Logical sector size the table was read with (512, or 4096 for a GPT found at byte 4096).</summary>
    public int SectorSize { get; }

    /// <summary>Every partition found, in number order, including an MBR's extended containers.</summary>
    public IReadOnlyList<Partition> Partitions { get; }

    /// <summary>The partitions that hold data (everything but extended containers): those shown as files.</summary>
    public IEnumerable<Partition> DataPartitions => Partitions.Where(p => p.Role != PartitionRole.Extended);

    /// <summary>
    /// What a reader should know: why there is no table, which header was used when the primary GPT is damaged,
    /// entries cut or dropped, overlaps, chains that loop. Empty for a clean table.
    /// </summary>
    public IReadOnlyList<string> Notes { get; }

    /// <summary>The GPT disk GUID; null for MBR.</summary>
    public Guid? DiskGuid { get; }

    /// <summary>The MBR disk signature (bytes 440-443); null for GPT.</summary>
    public uint? DiskSignature { get; }

    /// <summary>Reads the table of <paramref name="disk"/>. Never throws for what the disk holds; a failing read gives <see cref="PartitionScheme.None"/> and the reason.</summary>
    public static PartitionTable Read(IVirtualDisk disk)
    {
        ArgumentNullException.ThrowIfNull(disk);
        try
        {
            return new PartitionTableReader(disk).Read();
        }
        catch (Exception e) when (e is Qcow2Exception or IOException)
        {
            return None($"the partition table could not be read: {e.Message}");
        }
    }

    internal static PartitionTable None(string reason) => new(PartitionScheme.None, 512, [], [reason]);

    /// <summary>One line for a log: the scheme and the partitions, e.g. "GPT, 3 partitions: p1 1 MiB+512 MiB EFI System, ...".</summary>
    public string Describe()
    {
        if (Scheme == PartitionScheme.None)
        {
            return Notes.Count > 0 ? $"no partitions: {Notes[0]}" : "no partitions";
        }

        var data = DataPartitions.ToList();
        string list = string.Join(", ", data.Select(p => $"p{p.Number} at {p.Offset} ({p.Length} bytes, {p.TypeName})"));
        return $"{Scheme.ToString().ToUpperInvariant()}, {data.Count} partition{(data.Count == 1 ? "" : "s")}{(data.Count > 0 ? ": " + list : "")}";
    }
}
