using NUnit.Framework;
using Qcow2Mount.Qcow2.Format;

namespace Qcow2Mount.Qcow2.Tests.Format;

[TestFixture]
internal class BitmapDirectoryTests
{
    /// <summary>A bitmaps extension's data: one bitmap, a 32-byte directory at 0x30000.</summary>
    private static readonly byte[] Extension =
    [
        0, 0, 0, 1,                     // nb_bitmaps
        0, 0, 0, 0,                     // reserved
        0, 0, 0, 0, 0, 0, 0, 32,        // bitmap_directory_size
        0, 0, 0, 0, 0, 3, 0, 0,         // bitmap_directory_offset
    ];

    /// <summary>A directory entry as QEMU writes one for a bitmap named "b0" (qemu-img bitmap --add).</summary>
    private static readonly byte[] Entry =
    [
        0, 0, 0, 0, 0, 4, 0, 0,         // bitmap_table_offset: 0x40000
        0, 0, 0, 1,                     // bitmap_table_size: 1 entry
        0, 0, 0, 2,                     // flags: auto
        1,                              // type: dirty tracking bitmap
        16,                             // granularity_bits: 64 KiB
        0, 2,                           // name_size
        0, 0, 0, 0,                     // extra_data_size
        (byte)'b', (byte)'0',           // name
        0, 0, 0, 0, 0, 0,               // padding to 32
    ];

    [Test]
    public void Parses_the_extension_and_writes_it_back()
    {
        var ext = BitmapsExtension.Parse(Extension)!.Value;
        var back = new byte[BitmapsExtension.Size];
        ext.WriteTo(back);
        Assert.Multiple(() =>
        {
            Assert.That((ext.Count, ext.DirectorySize, ext.DirectoryOffset), Is.EqualTo((1u, 32UL, 0x30000UL)));
            Assert.That(back, Is.EqualTo(Extension));
            Assert.That(ext.Validate(0x10000, 0x50000), Is.Null);
        });
    }

    [Test]
    public void A_short_extension_is_not_read() => Assert.That(BitmapsExtension.Parse(Extension.AsSpan(0, 23)), Is.Null);

    [TestCase(70000u, 32UL, 0x30000UL, TestName = "more than 65535 bitmaps")]
    [TestCase(1u, (64UL << 20) + 1, 0x30000UL, TestName = "a directory over 64 MiB")]
    [TestCase(1u, 32UL, 0x30200UL, TestName = "a misaligned directory")]
    [TestCase(1u, 32UL, 0x50000UL, TestName = "a directory past the end")]
    [TestCase(1u, 0x20000UL, 0xFFFF_FFFF_FFFF_0000UL, TestName = "a directory offset that wraps with its size")]
    public void Hostile_extensions_are_invalid(uint count, ulong size, ulong offset) =>
        Assert.That(new BitmapsExtension(count, size, offset).Validate(0x10000, 0x50000), Does.Contain("invalid"));

    [Test]
    public void Parses_a_directory_entry_and_writes_it_back()
    {
        var entry = BitmapDirectoryEntry.Parse(Entry, out int consumed);
        var back = new byte[entry.StoredSize];
        int written = entry.WriteTo(back);
        Assert.Multiple(() =>
        {
            Assert.That(consumed, Is.EqualTo(32));
            Assert.That((entry.TableOffset, entry.TableSize, entry.TableBytes), Is.EqualTo((0x40000UL, 1u, 8UL)));
            Assert.That((entry.Flags, entry.Type, entry.GranularityBits, entry.Name), Is.EqualTo((2u, (byte)1, (byte)16, "b0")));
            Assert.That(written, Is.EqualTo(32));
            Assert.That(back, Is.EqualTo(Entry));
            Assert.That(entry.Validate(0x10000, 0x50000), Is.Null);
        });
    }

    [Test]
    public void Extra_data_sits_between_the_fixed_part_and_the_name()
    {
        var entry = new BitmapDirectoryEntry(0x40000, 1, 0, 1, 16, "name", new byte[] { 9, 9, 9 });
        var bytes = new byte[entry.StoredSize];
        entry.WriteTo(bytes);
        var back = BitmapDirectoryEntry.Parse(bytes, out int consumed);
        Assert.Multiple(() =>
        {
            Assert.That(consumed, Is.EqualTo(32), "24 + 3 + 4 = 31, padded to 32");
            Assert.That((back.Name, back.ExtraData.ToArray()), Is.EqualTo(("name", new byte[] { 9, 9, 9 })));
        });
    }

    [Test]
    public void An_entry_running_past_the_directory_is_corrupt()
    {
        var cut = Entry.AsSpan(0, 25).ToArray(); // name_size says 2, one byte is there
        Assert.Multiple(() =>
        {
            Assert.That(Assert.Throws<Qcow2Exception>(() => BitmapDirectoryEntry.Parse(cut, out _))!.Code, Is.EqualTo(Qcow2ErrorCode.Corrupt));
            Assert.That(Assert.Throws<Qcow2Exception>(() => BitmapDirectoryEntry.Parse(Entry.AsSpan(0, 23), out _))!.Code, Is.EqualTo(Qcow2ErrorCode.Corrupt));
        });
    }

    [TestCase(0x40200UL, 1u, TestName = "a misaligned table")]
    [TestCase(0x40000UL, 0x10000u, TestName = "a table past the end")]
    [TestCase(0xFFFF_FFFF_FFFF_0000UL, 0x2000u, TestName = "a table offset beyond 2^56")]
    public void Hostile_tables_are_refused(ulong offset, uint size) =>
        Assert.That(new BitmapDirectoryEntry(offset, size, 0, 1, 16, "b", ReadOnlyMemory<byte>.Empty).Validate(0x10000, 0x50000), Does.Contain("misaligned or past the end"));

    [Test]
    public void Bitmap_table_entries_point_at_data_clusters_with_bits_9_to_55()
    {
        Assert.Multiple(() =>
        {
            Assert.That(new BitmapTableEntry(0x0000_0000_0005_0000UL).DataOffset, Is.EqualTo(0x50000UL));
            Assert.That(new BitmapTableEntry(1).DataOffset, Is.Zero, "bit 0 alone: an all-ones cluster that is not stored");
            Assert.That(new BitmapTableEntry(0xFF00_0000_0005_0000UL).HasReservedBits, Is.True);
            Assert.That(new BitmapTableEntry(0xFF00_0000_0005_0000UL).DataOffset, Is.EqualTo(0x50000UL));
        });
    }
}
