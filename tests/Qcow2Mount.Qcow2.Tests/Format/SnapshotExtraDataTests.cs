using NUnit.Framework;
using Qcow2Mount.Qcow2.Format;

namespace Qcow2Mount.Qcow2.Tests.Format;

[TestFixture]
internal class SnapshotExtraDataTests
{
    /// <summary>Extra data as qemu-img 7.2 writes it for a 4 MiB disk snapshot.</summary>
    private static readonly byte[] Qemu72 =
    [
        0, 0, 0, 0, 0, 0, 0, 0,         // vm_state_size_large: no VM state
        0, 0, 0, 0, 0, 0x40, 0, 0,      // disk_size: 4 MiB
        0, 0, 0, 0, 0, 0, 0, 0,         // icount: 0 (qemu-img writes 0, not -1)
    ];

    [Test]
    public void Parses_what_qemu_img_writes()
    {
        var extra = SnapshotExtraData.Parse(Qemu72);
        Assert.That((extra.VmStateSizeLarge, extra.DiskSize, extra.Icount), Is.EqualTo(((ulong?)0, (ulong?)(4 << 20), (long?)0)));
    }

    [Test]
    public void A_disk_snapshot_writes_the_same_bytes_as_qemu_img() =>
        Assert.That(SnapshotExtraData.ForDiskSnapshot(4 << 20).ToArray(), Is.EqualTo(Qemu72));

    [Test]
    public void Fields_the_data_is_too_short_for_are_absent()
    {
        var v3Minimum = SnapshotExtraData.Parse(Qemu72.AsSpan(0, SnapshotExtraData.V3MinSize));
        var v2 = SnapshotExtraData.Parse([]);
        var cut = SnapshotExtraData.Parse(Qemu72.AsSpan(0, 15));
        Assert.Multiple(() =>
        {
            Assert.That((v3Minimum.DiskSize, v3Minimum.Icount), Is.EqualTo(((ulong?)(4 << 20), (long?)null)));
            Assert.That((v2.VmStateSizeLarge, v2.DiskSize, v2.Icount), Is.EqualTo(((ulong?)null, (ulong?)null, (long?)null)));
            Assert.That((cut.VmStateSizeLarge, cut.DiskSize), Is.EqualTo(((ulong?)0, (ulong?)null)), "a field cut short is not read");
        });
    }

    [Test]
    public void Absent_fields_are_written_as_QEMU_writes_them() =>
        Assert.That(SnapshotExtraData.Parse(new SnapshotExtraData(null, null, null).ToArray()).Icount, Is.EqualTo(-1));

    [Test]
    public void Hostile_values_round_trip_unchanged()
    {
        var extra = new SnapshotExtraData(ulong.MaxValue, ulong.MaxValue, long.MinValue);
        var back = SnapshotExtraData.Parse(extra.ToArray());
        Assert.That((back.VmStateSizeLarge, back.DiskSize, back.Icount), Is.EqualTo(((ulong?)ulong.MaxValue, (ulong?)ulong.MaxValue, (long?)long.MinValue)));
    }

    [Test]
    public void A_snapshot_entry_reads_its_extra_data_through_it()
    {
        var entry = new SnapshotEntry { VmStateSize = 7, ExtraData = (byte[])[.. Qemu72, 0xAA, 0xBB, 0, 0, 0, 0, 0, 0] };
        Assert.Multiple(() =>
        {
            Assert.That(entry.DiskSize, Is.EqualTo(4UL << 20));
            Assert.That(entry.VmStateSizeLarge, Is.Zero, "the large field wins over vm_state_size when present");
            Assert.That(new SnapshotEntry { VmStateSize = 7 }.VmStateSizeLarge, Is.EqualTo(7));
            Assert.That(new SnapshotEntry().Icount, Is.EqualTo(-1));
            Assert.That(entry.ExtraData[24..26].ToArray(), Is.EqualTo(new byte[] { 0xAA, 0xBB }), "bytes of later versions stay");
        });
    }
}
