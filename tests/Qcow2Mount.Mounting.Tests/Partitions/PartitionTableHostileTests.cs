using Qcow2Mount.Mounting.Partitions;
using Qcow2Mount.Mounting.Tests.Doubles;

namespace Qcow2Mount.Mounting.Tests.Partitions;

/// <summary>Tables made to hurt: each must give a bounded answer (partitions or none) with notes, never a hang or an exception.</summary>
internal sealed class PartitionTableHostileTests
{
    private const int Sector = TableBytes.Sector;

    private static PartitionTable Read(byte[] disk)
    {
        using var memory = new MemoryDisk(disk, canWrite: false);
        return PartitionTable.Read(memory);
    }

    [Test]
    public void A_disk_of_zeros_has_no_table_and_says_why()
    {
        var table = Read(new byte[1 << 20]);

        Assert.That(table.Scheme, Is.EqualTo(PartitionScheme.None));
        Assert.That(table.Notes, Is.EqualTo(new[] { "no partition table (the first sector has no 55 AA boot signature)" }));
    }

    [Test]
    public void A_disk_shorter_than_a_sector_has_no_table()
    {
        Assert.That(Read(new byte[100]).Notes[0], Does.Contain("smaller than one sector"));
    }

    [Test]
    public void Invalid_boot_flags_mean_the_first_sector_is_no_mbr()
    {
        var disk = new byte[1 << 20];
        TableBytes.Entry(disk, 0, 0, 0x83, 2048, 100, boot: 0x12);

        Assert.That(Read(disk).Notes[0], Does.Contain("invalid boot flags"));
    }

    [Test]
    public void An_extended_chain_that_links_to_itself_ends_at_the_loop()
    {
        var disk = new byte[4 << 20];
        TableBytes.Entry(disk, 0, 0, 0x05, 2048, 6000);
        TableBytes.Entry(disk, 2048, 0, 0x83, 64, 100);
        TableBytes.Entry(disk, 2048, 1, 0x05, 0, 6000); // the link points back at this very EBR

        var table = Read(disk);

        Assert.Multiple(() =>
        {
            Assert.That(table.DataPartitions.Select(p => (p.Number, p.Offset)), Is.EqualTo(new[] { (5, (2048L + 64) * Sector) }));
            Assert.That(table.Notes, Has.One.Contains("loops back to LBA 2048"));
        });
    }

    [Test]
    public void A_two_record_extended_loop_ends_too()
    {
        var disk = new byte[4 << 20];
        TableBytes.Entry(disk, 0, 0, 0x0F, 2048, 6000);
        TableBytes.Entry(disk, 2048, 0, 0x83, 8, 8);
        TableBytes.Entry(disk, 2048, 1, 0x05, 100, 200);
        TableBytes.Entry(disk, 2148, 0, 0x83, 8, 8);
        TableBytes.Entry(disk, 2148, 1, 0x05, 0, 200); // back to the first EBR

        var table = Read(disk);

        Assert.That(table.DataPartitions.Select(p => p.Number), Is.EqualTo(new[] { 5, 6 }));
        Assert.That(table.Notes, Has.One.Contains("loops"));
    }

    [Test]
    public void A_long_chain_stops_at_the_linux_partition_limit()
    {
        // 400 EBRs, each with one logical partition: Linux stops at minor 255, and so do we.
        var disk = new byte[8 << 20];
        const int Records = 400;
        TableBytes.Entry(disk, 0, 0, 0x05, 1, (uint)(Records * 20));
        for (int i = 0; i < Records; i++)
        {
            uint lba = 1 + (uint)(i * 20);
            TableBytes.Entry(disk, lba, 0, 0x83, 1, 10);
            TableBytes.Entry(disk, lba, 1, 0x05, (uint)((i + 1) * 20), 20);
        }

        var table = Read(disk);

        Assert.Multiple(() =>
        {
            Assert.That(table.DataPartitions.Count(), Is.EqualTo(PartitionTable.MaxPartitionNumber - 4));
            Assert.That(table.DataPartitions.Last().Number, Is.EqualTo(PartitionTable.MaxPartitionNumber));
            Assert.That(table.Notes, Has.Some.Contains("logical partitions; the rest is ignored"));
        });
    }

    [Test]
    public void A_chain_of_empty_records_stops_at_the_record_limit()
    {
        var disk = new byte[4 << 20];
        TableBytes.Entry(disk, 0, 0, 0x05, 1, 7000);
        for (uint lba = 1; lba < 7000; lba++)
        {
            TableBytes.Entry(disk, lba, 1, 0x05, lba, 1); // each links to the next sector, none holds a partition
        }

        var table = Read(disk);

        Assert.That(table.DataPartitions, Is.Empty);
        Assert.That(table.Notes, Has.Some.Contains($"more than {PartitionTable.MaxExtendedRecords} records"));
    }

    [Test]
    public void Partitions_past_the_end_are_dropped_and_those_running_past_it_are_cut_as_linux_does()
    {
        var disk = new byte[1 << 20]; // 2048 sectors
        TableBytes.Entry(disk, 0, 0, 0x83, 100, 100);
        TableBytes.Entry(disk, 0, 1, 0x83, 1000, 5000);
        TableBytes.Entry(disk, 0, 2, 0x83, 4000, 10);
        TableBytes.Entry(disk, 0, 3, 0x83, uint.MaxValue, uint.MaxValue);

        var table = Read(disk);

        Assert.Multiple(() =>
        {
            Assert.That(table.DataPartitions.Select(p => (p.Number, p.Offset, p.Length, p.Truncated)),
                Is.EqualTo(new[] { (1, 100L * Sector, 100L * Sector, false), (2, 1000L * Sector, 1048L * Sector, true) }));
            Assert.That(table.Notes, Has.Some.Contains("p2").And.Contains("cut to 1048 sectors"));
            Assert.That(table.Notes, Has.Some.Contains("p3 starts at LBA 4000, past the end"));
            Assert.That(table.Notes, Has.Some.Contains("p4 starts at LBA 4294967295"));
        });
    }

    [Test]
    public void Overlapping_partitions_are_kept_and_noted()
    {
        var disk = new byte[1 << 20];
        TableBytes.Entry(disk, 0, 0, 0x83, 100, 500);
        TableBytes.Entry(disk, 0, 1, 0x07, 300, 500);

        var table = Read(disk);

        Assert.That(table.DataPartitions.Count(), Is.EqualTo(2));
        Assert.That(table.Notes, Is.EqualTo(new[] { "p2 overlaps p1" }));
    }

    [Test]
    public void A_gpt_with_a_huge_entry_count_is_refused_without_allocating_it()
    {
        var disk = new byte[1 << 20];
        TableBytes.Gpt(disk, [(PartitionTypes.LinuxFilesystem, 34, 100)], entryCount: 4);
        // Both headers claim four billion entries, with correct header CRCs.
        TableBytes.Header(disk, 1, 2047, 2, uint.MaxValue, 128, 0);
        TableBytes.Header(disk, 2047, 1, 2, uint.MaxValue, 128, 0);
        long before = GC.GetAllocatedBytesForCurrentThread();

        var table = Read(disk);

        Assert.Multiple(() =>
        {
            Assert.That(table.Scheme, Is.EqualTo(PartitionScheme.None));
            Assert.That(table.Notes[0], Does.Contain("4294967295 partition entries"));
            Assert.That(GC.GetAllocatedBytesForCurrentThread() - before, Is.LessThan(4 << 20));
        });
    }

    [Test]
    public void Gpt_entries_past_the_disk_or_backwards_are_skipped_and_noted()
    {
        var disk = new byte[1 << 20];
        TableBytes.Gpt(disk, [
            (PartitionTypes.LinuxFilesystem, 34, 99),
            (PartitionTypes.LinuxFilesystem, 100, 999_999),
            (PartitionTypes.LinuxFilesystem, 500, 400),
            (PartitionTypes.MicrosoftBasicData, 80, 200),
        ]);

        var table = Read(disk);

        Assert.Multiple(() =>
        {
            Assert.That(table.Scheme, Is.EqualTo(PartitionScheme.Gpt));
            Assert.That(table.Partitions.Select(p => p.Number), Is.EqualTo(new[] { 1, 4 }));
            Assert.That(table.Notes, Has.Some.Contains("entry 2").And.Contains("past the end"));
            Assert.That(table.Notes, Has.Some.Contains("entry 3 ends"));
            Assert.That(table.Notes, Has.Some.EqualTo("p4 overlaps p1"));
        });
    }

    [Test]
    public void Gpt_entries_past_number_255_are_ignored_as_linux_ignores_them()
    {
        var disk = new byte[4 << 20];
        var entries = Enumerable.Range(0, 300).Select(i => (PartitionTypes.LinuxFilesystem, (ulong)(100 + (i * 10)), (ulong)(100 + (i * 10) + 9))).ToArray();
        TableBytes.Gpt(disk, entries, entryCount: 512);

        var table = Read(disk);

        Assert.That(table.Partitions, Has.Count.EqualTo(255));
        Assert.That(table.Notes, Has.Some.Contains("past number 255"));
    }

    [Test]
    public void Random_first_sectors_never_throw()
    {
        // A fuzz pass over the parsers: random bytes behind a valid signature, random MBR entries, random GPT headers.
        var random = new Random(15);
        for (int round = 0; round < 3000; round++)
        {
            var disk = new byte[64 * Sector];
            random.NextBytes(disk.AsSpan(0, (round % 3 == 0 ? 64 : 3) * Sector));
            if (round % 2 == 0)
            {
                for (int slot = 0; slot < 4; slot++)
                {
                    disk[446 + (slot * 16)] = 0;
                }

                disk[446 + 4] = (byte)(round % 4 == 0 ? 0xEE : 0x05);
            }

            disk[510] = 0x55;
            disk[511] = 0xAA;
            var table = Read(disk);
            Assert.That(table.DataPartitions.All(p => p.Offset >= 0 && p.End <= disk.Length), Is.True, $"round {round}");
        }
    }
}
