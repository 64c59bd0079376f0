using System.Buffers.Binary;

namespace Qcow2Mount.Qcow2.Format;

/// <summary>
/// The known part of a snapshot table entry's extra data: vm_state_size_large u64 (bytes 0..7), disk_size u64
/// (8..15; v3 entries carry at least these 16 bytes) and, since QEMU 5.2, icount i64 (16..23). A field is present
/// only when the extra data is long enough to hold it; bytes past 24 belong to later versions and are kept by
/// <see cref="SnapshotEntry"/>, not here.
/// </summary>
public readonly struct SnapshotExtraData
{
    /// <summary>Bytes this engine writes: all three fields, as qemu-img 5.2 and later do.</summary>
    public const int Size = 24;

    /// <summary>The least a v3 entry may carry (vm_state_size_large and disk_size).</summary>
    public const int V3MinSize = 16;

    private const int OffVmStateSizeLarge = 0, OffDiskSize = 8, OffIcount = 16;

    public SnapshotExtraData(ulong? vmStateSizeLarge, ulong? diskSize, long? icount)
    {
        VmStateSizeLarge = vmStateSizeLarge;
        DiskSize = diskSize;
        Icount = icount;
    }

    /// <summary>Size of the saved VM state, when recorded here (the 32-bit vm_state_size otherwise).</summary>
    public ulong? VmStateSizeLarge { get; }

    /// <summary>Guest size when the snapshot was taken.</summary>
    public ulong? DiskSize { get; }

    /// <summary>Instructions executed at the snapshot (-1: record/replay was off).</summary>
    public long? Icount { get; }

    /// <summary>What a disk-only snapshot records: no VM state, the guest size, and icount 0 as qemu-img 7.2 writes it.</summary>
    public static SnapshotExtraData ForDiskSnapshot(ulong diskSize) => new(0, diskSize, 0);

    public static SnapshotExtraData Parse(ReadOnlySpan<byte> extra) => new(
        extra.Length >= OffVmStateSizeLarge + 8 ? BinaryPrimitives.ReadUInt64BigEndian(extra[OffVmStateSizeLarge..]) : null,
        extra.Length >= OffDiskSize + 8 ? BinaryPrimitives.ReadUInt64BigEndian(extra[OffDiskSize..]) : null,
        extra.Length >= OffIcount + 8 ? BinaryPrimitives.ReadInt64BigEndian(extra[OffIcount..]) : null);

    /// <summary>Writes all three fields (<see cref="Size"/> bytes); an absent one as QEMU writes it (0, or -1 for icount).</summary>
    public void WriteTo(Span<byte> destination)
    {
        BinaryPrimitives.WriteUInt64BigEndian(destination[OffVmStateSizeLarge..], VmStateSizeLarge ?? 0);
        BinaryPrimitives.WriteUInt64BigEndian(destination[OffDiskSize..], DiskSize ?? 0);
        BinaryPrimitives.WriteInt64BigEndian(destination[OffIcount..], Icount ?? -1);
    }

    public byte[] ToArray()
    {
        var bytes = new byte[Size];
        WriteTo(bytes);
        return bytes;
    }
}
