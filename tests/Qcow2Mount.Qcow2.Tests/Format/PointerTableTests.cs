using NUnit.Framework;
using Qcow2Mount.Qcow2.Format;

namespace Qcow2Mount.Qcow2.Tests.Format;

[TestFixture]
internal class PointerTableTests
{
    /// <summary>Two entries as stored: big-endian, most significant byte first.</summary>
    private static readonly byte[] TwoEntries =
    [
        0x80, 0x00, 0x00, 0x00, 0x00, 0x05, 0x00, 0x00, // COPIED | L2 table at 0x50000
        0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, // no L2 table
    ];

    [Test]
    public void Decodes_big_endian_entries() =>
        Assert.That(PointerTable.Decode(TwoEntries), Is.EqualTo(new[] { 0x8000_0000_0005_0000UL, 0UL }));

    [Test]
    public void Encodes_back_byte_for_byte() =>
        Assert.That(PointerTable.Encode(PointerTable.Decode(TwoEntries)), Is.EqualTo(TwoEntries));

    [Test]
    public void Pads_to_the_length_asked_with_zero_entries()
    {
        var bytes = PointerTable.Encode([0x1234UL], 512);
        Assert.Multiple(() =>
        {
            Assert.That(bytes, Has.Length.EqualTo(512));
            Assert.That(PointerTable.ReadEntry(bytes, 0), Is.EqualTo(0x1234UL));
            Assert.That(bytes.Skip(8), Is.All.EqualTo(0));
        });
    }

    [Test]
    public void A_trailing_partial_entry_is_not_an_entry() =>
        Assert.That(PointerTable.Decode(TwoEntries.AsSpan(0, 15)), Has.Length.EqualTo(1));

    [Test]
    public void Refuses_to_encode_more_entries_than_fit() =>
        Assert.Throws<ArgumentException>(() => PointerTable.Encode([1UL, 2UL], new byte[15]));

    [Test]
    public void Writes_one_entry_in_place_leaving_the_others()
    {
        var table = (byte[])TwoEntries.Clone();
        PointerTable.WriteEntry(table, 1, 0x0000_0000_0007_0000UL);
        Assert.That(PointerTable.Decode(table), Is.EqualTo(new[] { 0x8000_0000_0005_0000UL, 0x70000UL }));
    }
}

[TestFixture]
internal class L1EntryTests
{
    [Test]
    public void Reads_offset_and_copied_and_reserved_bits()
    {
        var entry = new L1Entry(L1Entry.Copied | 0x7F00_0000_0003_0000UL | 0x1FF);
        Assert.Multiple(() =>
        {
            Assert.That(entry.L2TableOffset, Is.EqualTo(0x30000UL), "bits 56..62 and 0..8 are not offset");
            Assert.That(entry.IsCopied, Is.True);
            Assert.That(entry.HasReservedBits, Is.True);
            Assert.That(new L1Entry(L1Entry.Copied | 0x30000).HasReservedBits, Is.False);
            Assert.That(new L1Entry(L1Entry.Copied).HasL2Table, Is.False, "COPIED alone points at nothing");
        });
    }

    [Test]
    public void Setting_copied_keeps_every_other_bit()
    {
        var entry = new L1Entry(0x0100_0000_0003_0001UL);
        Assert.Multiple(() =>
        {
            Assert.That(entry.WithCopied(true).Value, Is.EqualTo(0x8100_0000_0003_0001UL));
            Assert.That(entry.WithCopied(true).WithCopied(false), Is.EqualTo(entry));
        });
    }

    [TestCase(0x30000UL, 2u, 0x40000L, null, TestName = "a table inside the file is fine")]
    [TestCase(0UL, 0u, 0x40000L, null, TestName = "an empty table may sit anywhere")]
    [TestCase(0x30200UL, 2u, 0x40000L, "misplaced", TestName = "a misaligned table is refused")]
    [TestCase(0UL, 2u, 0x40000L, "misplaced", TestName = "a table over the header is refused")]
    [TestCase(0x3FFF0UL, 4096u, 0x40000L, "misplaced", TestName = "a table past the end is refused")]
    [TestCase(0xFFFF_FFFF_FFFF_0000UL, 0x2000u, 0x40000L, "misplaced", TestName = "an offset that wraps with the size is refused")]
    [TestCase(0x30000UL, 4_194_305u, 1L << 40, "too large", TestName = "a table over 32 MiB is refused")]
    public void Checks_table_placement(ulong offset, uint entries, long fileLength, string? problem) =>
        Assert.That(L1Entry.CheckTablePlacement(offset, entries, 0x10000, fileLength),
            problem is null ? Is.Null : Does.Contain(problem));
}

[TestFixture]
internal class RefcountTableEntryTests
{
    [Test]
    public void The_offset_is_bits_9_to_63_as_in_the_spec_and_QEMU()
    {
        // REFT_OFFSET_MASK 0xffff_ffff_ffff_fe00: unlike L1/L2 entries, bits 56..63 belong to the offset.
        var entry = new RefcountTableEntry(0xFF00_0000_0001_0000UL);
        Assert.Multiple(() =>
        {
            Assert.That(entry.BlockOffset, Is.EqualTo(0xFF00_0000_0001_0000UL));
            Assert.That(entry.HasReservedBits, Is.False);
            Assert.That(entry.HasBlock, Is.True);
        });
    }

    [Test]
    public void Reserved_bits_alone_mean_no_block()
    {
        var entry = new RefcountTableEntry(0x100);
        Assert.Multiple(() =>
        {
            Assert.That(entry.HasReservedBits, Is.True);
            Assert.That(entry.BlockOffset, Is.Zero);
            Assert.That(entry.HasBlock, Is.False, "the offset decides, not the raw entry");
        });
    }

    [TestCase(0x10000UL, 16, true)]
    [TestCase(0x10200UL, 16, false)]
    [TestCase(0x10200UL, 9, true)]
    [TestCase(0x101FFUL, 16, true)] // reserved bits are not part of the offset
    public void Alignment_is_of_the_offset(ulong value, int clusterBits, bool aligned) =>
        Assert.That(new RefcountTableEntry(value).IsAligned(clusterBits), Is.EqualTo(aligned));
}
