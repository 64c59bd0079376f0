using Qcow2Mount.Mounting.Partitions;
using Qcow2Mount.Mounting.Tests.Doubles;

namespace Qcow2Mount.Mounting.Tests.Partitions;

/// <summary>The <c>partitions/</c> directories of a volume: windows onto the disk files, with the mount's mode.</summary>
internal sealed class VolumePartitionTests
{
    private const int Sector = TableBytes.Sector;

    /// <summary>A 1 MiB noisy disk with p1 at LBA 64 (100 sectors), an extended partition, and logical p5 at LBA 400 (50 sectors).</summary>
    private static MemoryDisk DiskWithPartitions(bool canWrite = true)
    {
        var disk = MemoryDisk.WithNoise(1 << 20, canWrite);
        disk.Data.AsSpan(0, Sector).Clear();
        TableBytes.Entry(disk.Data, 0, 0, 0x83, 64, 100);
        TableBytes.Entry(disk.Data, 0, 1, 0x05, 300, 200);
        disk.Data.AsSpan(300 * Sector, Sector).Clear();
        TableBytes.Entry(disk.Data, 300, 0, 0x07, 100, 50);
        return disk;
    }

    [Test]
    public void Partition_files_show_the_bytes_of_their_partition()
    {
        var disk = DiskWithPartitions();
        using var volume = new Volume(disk);

        Assert.That(volume.List("/partitions").Select(n => (n.Name, n.Length)), Is.EqualTo(new[] { ("p1.raw", 100L * Sector), ("p5.raw", 50L * Sector) }));
        Assert.That(volume.Root.Children.Select(n => n.Name), Is.EqualTo(new[] { "disk.raw", "partitions" }));
        ulong handle = volume.Open("/partitions/p5.raw", VolumeAccess.Read);
        var buffer = new byte[60 * Sector];
        int read = volume.Read(handle, 0, buffer);

        Assert.That(read, Is.EqualTo(50 * Sector), "a read stops at the partition's end");
        Assert.That(buffer.AsSpan(0, read).SequenceEqual(disk.Data.AsSpan(400 * Sector, 50 * Sector)), Is.True);
        Assert.That(volume.Read(handle, 50 * Sector, buffer), Is.Zero);
    }

    [Test]
    public void Writes_to_a_partition_land_in_it_and_never_past_its_end()
    {
        var disk = DiskWithPartitions();
        using var volume = new Volume(disk);
        ulong handle = volume.Open("/partitions/p1.raw", VolumeAccess.ReadWrite);
        byte before = disk.Data[164 * Sector];

        int written = volume.Write(handle, (100 * Sector) - 10, new byte[100]);
        volume.Flush(handle);

        Assert.Multiple(() =>
        {
            Assert.That(written, Is.EqualTo(10), "cut at the partition's end");
            Assert.That(disk.Data.AsSpan((164 * Sector) - 10, 10).ToArray(), Is.All.Zero);
            Assert.That(disk.Data[164 * Sector], Is.EqualTo(before), "the byte after the partition is untouched");
            Assert.That(disk.FlushCount, Is.EqualTo(1), "a flush on a partition file flushes the disk");
            Assert.That(() => volume.Write(handle, 100 * Sector, new byte[1]),
                Throws.TypeOf<VolumeException>().With.Property(nameof(VolumeException.Code)).EqualTo(VolumeErrorCode.NoSpace));
        });
    }

    [Test]
    public void A_read_only_volume_shows_read_only_partitions()
    {
        using var volume = new Volume(DiskWithPartitions(), new VolumeOptions { ReadOnly = true });
        var node = volume.Lookup("/partitions/p1.raw");

        Assert.That(node.IsReadOnly, Is.True);
        Assert.That(() => volume.Open(node, VolumeAccess.Write),
            Throws.TypeOf<VolumeException>().With.Property(nameof(VolumeException.Code)).EqualTo(VolumeErrorCode.ReadOnly));
    }

    [Test]
    public void Snapshots_show_their_partitions_beside_their_files()
    {
        var snapshot = DiskWithPartitions(canWrite: false);
        using var volume = new Volume(new MemoryDisk(new byte[1 << 20]), snapshots: [new SnapshotDisk("before", snapshot)]);

        Assert.Multiple(() =>
        {
            Assert.That(volume.Root.Children.Select(n => n.Name), Is.EqualTo(new[] { "disk.raw", "snapshots" }));
            Assert.That(volume.List("/snapshots").Select(n => n.Name), Is.EqualTo(new[] { "before.partitions", "before.raw" }));
            Assert.That(volume.List("/snapshots/before.partitions").Select(n => n.Path),
                Is.EqualTo(new[] { "/snapshots/before.partitions/p1.raw", "/snapshots/before.partitions/p5.raw" }));
            Assert.That(volume.Lookup("/snapshots/before.partitions/p5.raw").IsReadOnly, Is.True);
            Assert.That(volume.PartitionTables["/snapshots/before.raw"].Scheme, Is.EqualTo(PartitionScheme.Mbr));
        });
    }

    [Test]
    public void A_disk_without_a_table_has_no_partitions_directory_and_the_notes_say_why()
    {
        using var volume = new Volume(new MemoryDisk(new byte[1 << 20]));

        Assert.That(volume.Find("/partitions"), Is.Null);
        Assert.That(volume.PartitionNotes, Is.EqualTo(new[] { "/disk.raw: no partitions: no partition table (the first sector has no 55 AA boot signature)" }));
    }

    [Test]
    public void A_disk_that_fails_to_read_still_mounts_and_the_notes_say_why()
    {
        var disk = DiskWithPartitions();
        disk.ReadFailure = new IOException("host read failed");
        using var volume = new Volume(disk);

        Assert.That(volume.Find("/disk.raw"), Is.Not.Null);
        Assert.That(volume.Find("/partitions"), Is.Null);
        Assert.That(volume.PartitionNotes[0], Does.Contain("could not be read: host read failed"));
    }

    [Test]
    public void Partitions_can_be_turned_off()
    {
        using var volume = new Volume(DiskWithPartitions(), new VolumeOptions { ShowPartitions = false });

        Assert.That(volume.Find("/partitions"), Is.Null);
        Assert.That(volume.PartitionNotes, Is.Empty);
    }
}
