namespace Qcow2Mount.Qcow2.Snapshots;

/// <summary>An internal snapshot as front ends show it (the fields of qemu-img's snapshot list).</summary>
public sealed record SnapshotInfo(
    string Id,
    string Name,
    ulong VmStateSize,
    DateTimeOffset Date,
    ulong VmClockNanoseconds,
    ulong? DiskSize,
    long Icount);
