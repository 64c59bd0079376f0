using System.Buffers.Binary;
using NUnit.Framework;
using Qcow2Mount.Qcow2.Format;

namespace Qcow2Mount.Qcow2.Tests.Format;

[TestFixture]
internal class SnapshotEntryTests
{
    /// <summary>An entry as QEMU 7.2 writes it: 24 bytes of extra data, id "1", name "s1", padded to 8.</summary>
    private static byte[] QemuEntry()
    {
        var b = new byte[72];
        BinaryPrimitives.WriteUInt64BigEndian(b, 0x90000);              // l1_table_offset
        BinaryPrimitives.WriteUInt32BigEndian(b.AsSpan(8), 1);          // l1_size
        BinaryPrimitives.WriteUInt16BigEndian(b.AsSpan(12), 1);         // id_str_size
        BinaryPrimitives.WriteUInt16BigEndian(b.AsSpan(14), 2);         // name_size
        BinaryPrimitives.WriteUInt32BigEndian(b.AsSpan(16), 1_700_000_000); // date_sec
        BinaryPrimitives.WriteUInt32BigEndian(b.AsSpan(20), 123_456_700);   // date_nsec
        BinaryPrimitives.WriteUInt64BigEndian(b.AsSpan(24), 5_000_000_001); // vm_clock_nsec
        BinaryPrimitives.WriteUInt32BigEndian(b.AsSpan(32), 0);         // vm_state_size
        BinaryPrimitives.WriteUInt32BigEndian(b.AsSpan(36), 24);        // extra_data_size
        BinaryPrimitives.WriteUInt64BigEndian(b.AsSpan(40), 0);         // extra: vm_state_size_large
        BinaryPrimitives.WriteUInt64BigEndian(b.AsSpan(48), 4 << 20);   // extra: disk_size
        BinaryPrimitives.WriteInt64BigEndian(b.AsSpan(56), 0);          // extra: icount (qemu-img writes 0)
        b[64] = (byte)'1';                                              // id
        b[65] = (byte)'s';                                              // name
        b[66] = (byte)'1';                                              // 67..71: padding to 72
        return b;
    }

    [Test]
    public void Parses_a_qemu_entry_and_writes_it_back_byte_for_byte()
    {
        var bytes = QemuEntry();
        var s = SnapshotEntry.Parse(bytes, out int consumed);
        Assert.Multiple(() =>
        {
            Assert.That(consumed, Is.EqualTo(72));
            Assert.That((s.Id, s.Name, s.L1TableOffset, s.L1Size), Is.EqualTo(("1", "s1", 0x90000UL, 1u)));
            Assert.That(s.Date, Is.EqualTo(DateTimeOffset.FromUnixTimeSeconds(1_700_000_000).AddTicks(1_234_567)));
            Assert.That(s.VmClockNanoseconds, Is.EqualTo(5_000_000_001UL));
            Assert.That(s.DiskSize, Is.EqualTo(4UL << 20));
            Assert.That(s.Icount, Is.EqualTo(0));
            Assert.That(s.StoredSize, Is.EqualTo(72));
        });
        var written = new byte[72];
        Assert.That(s.WriteTo(written), Is.EqualTo(72));
        Assert.That(written, Is.EqualTo(bytes));
    }

    [Test]
    public void Entry_without_extra_data_has_no_disk_size_and_no_icount()
    {
        var s = new SnapshotEntry { Id = "7", Name = "old", VmStateSize = 99 };
        var buffer = new byte[s.StoredSize];
        s.WriteTo(buffer);
        var parsed = SnapshotEntry.Parse(buffer, out _);
        Assert.That((parsed.DiskSize, parsed.Icount, parsed.VmStateSizeLarge, parsed.Name), Is.EqualTo(((ulong?)null, -1L, 99UL, "old")));
    }

    [Test]
    public void Oversized_extra_data_is_an_invalid_header_and_a_short_table_is_corrupt()
    {
        var bytes = QemuEntry();
        BinaryPrimitives.WriteUInt32BigEndian(bytes.AsSpan(36), 1025);
        Assert.That(Assert.Throws<Qcow2Exception>(() => SnapshotEntry.Parse(bytes, out _))!.Code, Is.EqualTo(Qcow2ErrorCode.InvalidHeader));
        Assert.That(Assert.Throws<Qcow2Exception>(() => SnapshotEntry.Parse(QemuEntry().AsSpan(0, 60), out _))!.Code, Is.EqualTo(Qcow2ErrorCode.Corrupt));
    }
}
