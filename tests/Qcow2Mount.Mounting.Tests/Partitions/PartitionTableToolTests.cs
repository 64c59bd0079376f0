using System.Globalization;
using Qcow2Mount.Mounting.Partitions;
using Qcow2Mount.Mounting.Tests.Doubles;
using Qcow2Mount.TestSupport;

namespace Qcow2Mount.Mounting.Tests.Partitions;

/// <summary>Tables written by sfdisk and sgdisk, read back by <see cref="PartitionTable"/> and compared with sfdisk's own reading.</summary>
internal sealed class PartitionTableToolTests
{
    private const long DiskBytes = 64L << 20;

    private static PartitionTable Read(byte[] disk)
    {
        using var memory = new MemoryDisk(disk, canWrite: false);
        return PartitionTable.Read(memory);
    }

    [Test]
    public void Mbr_with_an_extended_chain_numbers_logical_partitions_from_5_as_sfdisk_does()
    {
        using var dir = new TempDir("mbr");
        string disk = dir.Combine("mbr.raw");
        GuestDiskTools.CreateSparse(disk, DiskBytes);
        // Slot 4 stays empty: Linux keeps slot numbers, so the logical partitions still start at 5.
        GuestDiskTools.Sfdisk(disk, "label: dos\nstart=2048, size=8192, type=83, bootable\nstart=10240, size=4096, type=c\n" +
            "start=16384, size=100000, type=5\nstart=18432, size=8192, type=83\nstart=28672, size=8192, type=7\nstart=40960, size=20480, type=82\n");

        var table = Read(File.ReadAllBytes(disk));
        var expected = GuestDiskTools.SfdiskPartitions(disk);

        Assert.Multiple(() =>
        {
            Assert.That(table.Scheme, Is.EqualTo(PartitionScheme.Mbr));
            Assert.That(table.Notes, Is.Empty);
            Assert.That(table.Partitions.Select(p => (p.Number, p.Offset / 512, p.Length / 512, p.MbrType!.Value.ToString("x", CultureInfo.InvariantCulture))),
                Is.EqualTo(expected.Select(e => (e.Number, e.Start, e.Size, e.Type))));
            Assert.That(table.DataPartitions.Select(p => p.FileName), Is.EqualTo(new[] { "p1.raw", "p2.raw", "p5.raw", "p6.raw", "p7.raw" }));
            Assert.That(table.Partitions.Single(p => p.Number == 3).Role, Is.EqualTo(PartitionRole.Extended));
            Assert.That(table.Partitions.Where(p => p.Number >= 5).Select(p => p.Role), Is.All.EqualTo(PartitionRole.Logical));
            Assert.That(table.Partitions[0].Bootable, Is.True);
        });
    }

    [Test]
    public void Gpt_written_by_sfdisk_matches_sfdisk_including_names_and_guids()
    {
        using var dir = new TempDir("gpt");
        string disk = dir.Combine("gpt.raw");
        GuestDiskTools.CreateSparse(disk, DiskBytes);
        GuestDiskTools.Sfdisk(disk, "label: gpt\nstart=2048, size=8192, type=C12A7328-F81F-11D2-BA4B-00A0C93EC93B, name=\"EFI system\"\n" +
            "start=10240, size=20480, type=EBD0A0A2-B9E5-4433-87C0-68B6B72699C7, name=data\nstart=30720, size=30720, type=0FC63DAF-8483-4772-8E79-3D69D8477DE4, name=\"Linux root\"\n");

        var table = Read(File.ReadAllBytes(disk));
        var expected = GuestDiskTools.SfdiskPartitions(disk);

        Assert.Multiple(() =>
        {
            Assert.That(table.Scheme, Is.EqualTo(PartitionScheme.Gpt));
            Assert.That(table.Notes, Is.Empty);
            Assert.That(table.Partitions.Select(p => (p.Number, p.Offset / 512, p.Length / 512, p.GptType!.Value.ToString().ToUpperInvariant(), p.GptId!.Value.ToString().ToUpperInvariant(), p.Name)),
                Is.EqualTo(expected.Select(e => (e.Number, e.Start, e.Size, e.Type, e.Uuid, e.Name))));
            Assert.That(table.Partitions.Select(p => p.TypeName), Is.EqualTo(new[] { "EFI System", "Microsoft basic data", "Linux filesystem" }));
        });
    }

    [Test]
    public void Gpt_from_sgdisk_keeps_entry_numbers_across_a_gap()
    {
        string sgdisk = ExternalTool.RequireTool("sgdisk");
        using var dir = new TempDir("sgdisk");
        string disk = dir.Combine("sgdisk.raw");
        GuestDiskTools.CreateSparse(disk, DiskBytes);
        ExternalTool.Run(sgdisk, ["-n", "1:2048:+4M", "-t", "1:ef00", "-n", "2:0:+8M", "-t", "2:8300", "-n", "4:0:0", "-t", "4:0700", "-c", "4:evidence", disk]).EnsureSuccess();

        var table = Read(File.ReadAllBytes(disk));
        var expected = GuestDiskTools.SfdiskPartitions(disk);

        Assert.Multiple(() =>
        {
            Assert.That(table.Scheme, Is.EqualTo(PartitionScheme.Gpt));
            Assert.That(table.Partitions.Select(p => (p.Number, p.Offset / 512, p.Length / 512)), Is.EqualTo(expected.Select(e => (e.Number, e.Start, e.Size))));
            Assert.That(table.Partitions.Select(p => p.FileName), Is.EqualTo(new[] { "p1.raw", "p2.raw", "p4.raw" }));
            Assert.That(table.Partitions[^1].Name, Is.EqualTo("evidence"));
        });
    }

    [TestCase(512 + 20, "header CRC32", TestName = "Damaged primary GPT header: the backup is used, and the notes say so")]
    [TestCase(1024 + 40, "entry array's CRC32", TestName = "Damaged primary GPT entry array: the backup is used, and the notes say so")]
    public void Damaged_primary_gpt_falls_back_to_the_backup(long damagedByte, string reason)
    {
        using var dir = new TempDir("gpt-backup");
        string disk = dir.Combine("gpt.raw");
        GuestDiskTools.CreateSparse(disk, DiskBytes);
        GuestDiskTools.Sfdisk(disk, "label: gpt\nstart=2048, size=8192\nstart=10240, size=20480\n");
        byte[] bytes = File.ReadAllBytes(disk);
        var intact = Read(bytes);
        bytes[damagedByte] ^= 0x5A;

        var table = Read(bytes);

        Assert.Multiple(() =>
        {
            Assert.That(table.Scheme, Is.EqualTo(PartitionScheme.Gpt));
            Assert.That(table.Partitions, Is.EqualTo(intact.Partitions));
            Assert.That(table.Notes, Has.One.Contains("primary GPT at LBA 1 is damaged").And.Contains(reason).And.Contains($"backup at LBA {(DiskBytes / 512) - 1} is used"));
        });
    }

    [Test]
    public void Gpt_with_both_headers_damaged_has_no_partitions_and_says_why()
    {
        using var dir = new TempDir("gpt-dead");
        string disk = dir.Combine("gpt.raw");
        GuestDiskTools.CreateSparse(disk, DiskBytes);
        GuestDiskTools.Sfdisk(disk, "label: gpt\nstart=2048, size=8192\n");
        byte[] bytes = File.ReadAllBytes(disk);
        bytes[512 + 20] ^= 1;
        bytes[DiskBytes - 512 + 20] ^= 1;

        var table = Read(bytes);

        Assert.Multiple(() =>
        {
            Assert.That(table.Scheme, Is.EqualTo(PartitionScheme.None));
            Assert.That(table.Partitions, Is.Empty);
            Assert.That(table.Notes[0], Does.Contain("neither header is usable").And.Contains("primary at LBA 1: header CRC32").And.Contains("backup at LBA"));
        });
    }
}
