using Qcow2Mount.Mounting.Partitions;
using Qcow2Mount.Qcow2;

namespace Qcow2Mount.Mounting.Inspection;

/// <summary>One volume of a disk: a partition (or the whole disk when it has no table) and what it holds.</summary>
public sealed record InspectedVolume(Partition? Partition, FileSystemSignature? FileSystem);

/// <summary>A guest disk's layout: its partition table and the file system found in each data partition.</summary>
public sealed record DiskLayout(PartitionTable Table, IReadOnlyList<InspectedVolume> Volumes);

/// <summary>Reads a disk's layout for reports: partition table, then one signature probe per data partition.</summary>
public static class DiskInspector
{
    /// <summary>
    /// The table of <paramref name="disk"/> and each data partition's file system; a disk without a table is
    /// probed as a whole (one volume with a null partition). Reads at most 68 KiB per partition; never writes.
    /// </summary>
    public static DiskLayout Inspect(IVirtualDisk disk)
    {
        var table = PartitionTable.Read(disk);
        if (table.Scheme == PartitionScheme.None)
        {
            return new DiskLayout(table, [new InspectedVolume(null, Probe(disk))]);
        }

        var volumes = table.DataPartitions
            .Select(p => new InspectedVolume(p, Probe(new PartitionDisk(disk, p.Offset, p.Length))))
            .ToList();
        return new DiskLayout(table, volumes);
    }

    private static FileSystemSignature? Probe(IVirtualDisk volume)
    {
        try
        {
            return FileSystemProbe.Detect(volume);
        }
        catch (Exception e) when (e is Qcow2Exception or IOException)
        {
            return null;
        }
    }
}
