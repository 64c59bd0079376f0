using System.Buffers.Binary;
using System.Text;
using Qcow2Mount.Mounting.Inspection;
using Qcow2Mount.Mounting.Partitions;
using Qcow2Mount.Mounting.Tests.Doubles;
using Qcow2Mount.TestSupport;

namespace Qcow2Mount.Mounting.Tests.Partitions;

/// <summary>
/// Signature detection. File systems whose tools are installed are made by those tools and checked against blkid;
/// the others (no mkfs here) from byte fixtures laid out field by field as their formats define them.
/// </summary>
internal sealed class FileSystemProbeTests
{
    private static byte[] Made(string tool, string package, long bytes, Func<string, string[]> arguments, bool labelInBootSector = true)
    {
        string path = ExternalTool.RequireTool(tool, package);
        using var dir = new TempDir("fs");
        string file = dir.Combine("volume.img");
        GuestDiskTools.CreateSparse(file, bytes);
        ExternalTool.Run(path, arguments(file)).EnsureSuccess();
        var blkid = GuestDiskTools.Blkid(file);
        byte[] start = new byte[FileSystemProbe.ProbeLength];
        using (var stream = File.OpenRead(file))
        {
            stream.ReadExactly(start);
        }

        var found = FileSystemProbe.Detect(start);
        Assert.That(found, Is.Not.Null, $"{tool}: nothing detected (blkid: {string.Join(' ', blkid)})");
        Assert.Multiple(() =>
        {
            Assert.That(found!.TypeName, Is.EqualTo(blkid["TYPE"]), "type, as blkid names it");
            Assert.That(found.Uuid, Is.EqualTo(blkid.GetValueOrDefault("UUID")), "UUID or serial, as blkid prints it");
            if (labelInBootSector)
            {
                Assert.That(found.Label, Is.EqualTo(blkid.GetValueOrDefault("LABEL")));
            }
        });
        return start;
    }

    [TestCase("12", 8L << 20, FileSystemKind.Fat12)]
    [TestCase("16", 64L << 20, FileSystemKind.Fat16)]
    [TestCase("32", 300L << 20, FileSystemKind.Fat32)]
    [TestCase("32", 32L << 20, FileSystemKind.Fat32)] // fewer than 65525 clusters: the FAT32 layout still says FAT32
    public void Fat_made_by_mkfs_fat(string bits, long bytes, FileSystemKind kind)
    {
        var start = Made("mkfs.fat", "dosfstools", bytes, f => ["-F", bits, "-n", "EVIDENCE", "-i", "1234ABCD", f]);
        Assert.That(FileSystemProbe.Detect(start), Is.EqualTo(new FileSystemSignature(kind, "EVIDENCE", "1234-ABCD")));
    }

    [TestCase("mkfs.ext2", FileSystemKind.Ext2)]
    [TestCase("mkfs.ext3", FileSystemKind.Ext3)]
    [TestCase("mkfs.ext4", FileSystemKind.Ext4)]
    public void Ext_made_by_mke2fs(string tool, FileSystemKind kind)
    {
        const string Uuid = "0f1e2d3c-4b5a-6978-8796-a5b4c3d2e1f0";
        var start = Made(tool, "e2fsprogs", 32L << 20, f => ["-q", "-F", "-L", "home", "-U", Uuid, f]);
        Assert.That(FileSystemProbe.Detect(start), Is.EqualTo(new FileSystemSignature(kind, "home", Uuid)));
    }

    [Test]
    public void Ntfs_made_by_mkntfs()
    {
        // The boot sector holds the serial number; the label lives in $Volume, which only the disk probe reads.
        var start = Made("mkntfs", "ntfs-3g", 32L << 20, f => ["-q", "-F", "-Q", "-L", "WINDOWS", f], labelInBootSector: false);
        Assert.That(FileSystemProbe.Detect(start)!.Kind, Is.EqualTo(FileSystemKind.Ntfs));
        Assert.That(FileSystemProbe.Detect(start)!.Label, Is.Null);
    }

    [Test]
    public void Ntfs_label_is_read_from_the_volume_file_as_blkid_reads_it()
    {
        string mkntfs = ExternalTool.RequireTool("mkntfs");
        using var dir = new TempDir("ntfs-label");
        string file = dir.Combine("ntfs.img");
        GuestDiskTools.CreateSparse(file, 32L << 20);
        ExternalTool.Run(mkntfs, ["-q", "-F", "-Q", "-L", "Evidence01", file]).EnsureSuccess();
        var blkid = GuestDiskTools.Blkid(file);

        using var disk = new MemoryDisk(File.ReadAllBytes(file), canWrite: false);
        var found = FileSystemProbe.Detect(disk);

        Assert.That((found!.Kind, found.Label, found.Uuid), Is.EqualTo((FileSystemKind.Ntfs, blkid["LABEL"], blkid["UUID"])));
        Assert.That(found.Label, Is.EqualTo("Evidence01"));
    }

    [Test]
    public void A_torn_ntfs_volume_record_gives_no_label_rather_than_garbage()
    {
        var record = new byte[1024];
        "FILE"u8.CopyTo(record);
        BinaryPrimitives.WriteUInt16LittleEndian(record.AsSpan(4), 48); // update sequence array at 48
        BinaryPrimitives.WriteUInt16LittleEndian(record.AsSpan(6), 3);  // sequence number + 2 strides
        BinaryPrimitives.WriteUInt16LittleEndian(record.AsSpan(48), 7); // sequence number 7...
        BinaryPrimitives.WriteUInt16LittleEndian(record.AsSpan(510), 8); // ...but the first stride ends in 8: torn

        Assert.That(NtfsVolumeLabel.FromRecord(record, 512), Is.Null);
    }

    [Test]
    public void Swap_made_by_mkswap()
    {
        const string Uuid = "11111111-2222-3333-4444-555555555555";
        var start = Made("mkswap", "util-linux", 16L << 20, f => ["-L", "swap0", "-U", Uuid, f]);
        Assert.That(FileSystemProbe.Detect(start), Is.EqualTo(new FileSystemSignature(FileSystemKind.Swap, "swap0", Uuid, 1)));
    }

    [Test]
    public void Xfs_superblock()
    {
        var b = new byte[FileSystemProbe.ProbeLength];
        "XFSB"u8.CopyTo(b);                                               // sb_magicnum
        Convert.FromHexString("00112233445566778899aabbccddeeff").CopyTo(b, 32); // sb_uuid
        "xfsroot"u8.CopyTo(b.AsSpan(108));                               // sb_fname[12]
        Assert.That(FileSystemProbe.Detect(b), Is.EqualTo(new FileSystemSignature(FileSystemKind.Xfs, "xfsroot", "00112233-4455-6677-8899-aabbccddeeff")));
    }

    [Test]
    public void Btrfs_superblock_at_64_KiB()
    {
        var b = new byte[FileSystemProbe.ProbeLength];
        var sb = b.AsSpan(0x10000);
        Convert.FromHexString("a1a2a3a4b1b2c1c2d1d2e1e2e3e4e5e6").CopyTo(sb[0x20..]); // fsid
        "_BHRfS_M"u8.CopyTo(sb[0x40..]);                                           // magic
        "pool"u8.CopyTo(sb[0x12B..]);                                              // label[256]
        Assert.That(FileSystemProbe.Detect(b), Is.EqualTo(new FileSystemSignature(FileSystemKind.Btrfs, "pool", "a1a2a3a4-b1b2-c1c2-d1d2-e1e2e3e4e5e6")));
    }

    [Test]
    public void Lvm2_label_in_the_second_sector()
    {
        var b = new byte[FileSystemProbe.ProbeLength];
        var label = b.AsSpan(512);
        "LABELONE"u8.CopyTo(label);                              // label_header.id
        BinaryPrimitives.WriteUInt64LittleEndian(label[8..], 1); // sector_xl: the label's own sector
        BinaryPrimitives.WriteUInt32LittleEndian(label[20..], 32); // offset_xl: the PV header follows the label header
        "LVM2 001"u8.CopyTo(label[24..]);                        // type
        "AbCdEfGhIjKlMnOpQrStUvWxYz012345"u8.CopyTo(label[32..]); // pv_header.pv_uuid
        Assert.That(FileSystemProbe.Detect(b), Is.EqualTo(new FileSystemSignature(FileSystemKind.Lvm2, Uuid: "AbCdEf-GhIj-KlMn-OpQr-StUv-WxYz-012345")));
    }

    [TestCase(1, null)]
    [TestCase(2, "secret")]
    public void Luks_header(int version, string? label)
    {
        var b = new byte[FileSystemProbe.ProbeLength];
        new byte[] { (byte)'L', (byte)'U', (byte)'K', (byte)'S', 0xBA, 0xBE }.CopyTo(b, 0); // magic
        BinaryPrimitives.WriteUInt16BigEndian(b.AsSpan(6), (ushort)version);              // version
        if (label is not null)
        {
            Encoding.ASCII.GetBytes(label).CopyTo(b, 24);                                  // LUKS2 label[48]
        }

        Encoding.ASCII.GetBytes("6f2b1a3c-9d8e-4f70-a1b2-c3d4e5f60718").CopyTo(b, 168); // uuid[40]
        Assert.That(FileSystemProbe.Detect(b), Is.EqualTo(new FileSystemSignature(FileSystemKind.Luks, label, "6f2b1a3c-9d8e-4f70-a1b2-c3d4e5f60718", version)));
        Assert.That(FileSystemProbe.Detect(b)!.Description, Is.EqualTo($"LUKS{version}"));
    }

    [Test]
    public void BitLocker_volume_header()
    {
        var b = new byte[FileSystemProbe.ProbeLength];
        new byte[] { 0xEB, 0x58, 0x90 }.CopyTo(b, 0);    // jump
        "-FVE-FS-"u8.CopyTo(b.AsSpan(3));               // signature in the OEM field
        var id = Guid.Parse("4967d63b-2e29-4ad8-8399-f6a339e3d001");
        id.TryWriteBytes(b.AsSpan(160));                 // volume identifier
        b[510] = 0x55;
        b[511] = 0xAA;
        Assert.That(FileSystemProbe.Detect(b), Is.EqualTo(new FileSystemSignature(FileSystemKind.BitLocker, Uuid: id.ToString())));
    }

    [Test]
    public void ExFat_boot_sector()
    {
        var b = new byte[FileSystemProbe.ProbeLength];
        new byte[] { 0xEB, 0x76, 0x90 }.CopyTo(b, 0);                   // jump
        "EXFAT   "u8.CopyTo(b.AsSpan(3));                              // file system name
        BinaryPrimitives.WriteUInt32LittleEndian(b.AsSpan(100), 0xC0FFEE42); // volume serial number
        b[510] = 0x55;
        b[511] = 0xAA;
        Assert.That(FileSystemProbe.Detect(b), Is.EqualTo(new FileSystemSignature(FileSystemKind.ExFat, Uuid: "C0FF-EE42")));
    }

    [Test]
    public void Nothing_recognized_gives_null()
    {
        Assert.That(FileSystemProbe.Detect(new byte[FileSystemProbe.ProbeLength]), Is.Null);
        Assert.That(FileSystemProbe.Detect(new byte[10]), Is.Null);
    }

    [Test]
    public void A_whole_disk_file_system_is_not_taken_for_a_partition_table()
    {
        string mkfs = ExternalTool.RequireTool("mkfs.fat");
        using var dir = new TempDir("superfloppy");
        string file = dir.Combine("floppy.img");
        GuestDiskTools.CreateSparse(file, 32L << 20);
        ExternalTool.Run(mkfs, ["-F", "16", file]).EnsureSuccess();
        using var disk = new MemoryDisk(File.ReadAllBytes(file), canWrite: false);

        var layout = DiskInspector.Inspect(disk);

        Assert.That(layout.Table.Scheme, Is.EqualTo(PartitionScheme.None));
        Assert.That(layout.Table.Notes[0], Does.Contain("holds FAT16 directly"));
        Assert.That(layout.Volumes.Single().FileSystem!.Kind, Is.EqualTo(FileSystemKind.Fat16));
    }

    [Test]
    public void The_inspector_probes_each_partition()
    {
        string mkfs = ExternalTool.RequireTool("mkfs.ext4");
        using var dir = new TempDir("inspect");
        string disk = dir.Combine("disk.raw");
        GuestDiskTools.CreateSparse(disk, 48L << 20);
        GuestDiskTools.Sfdisk(disk, "label: gpt\nstart=2048, size=32768\nstart=34816, size=20480, type=S\n");
        string part = dir.Combine("p1.img");
        GuestDiskTools.CreateSparse(part, 32768L * 512);
        ExternalTool.Run(mkfs, ["-q", "-F", "-L", "root", part]).EnsureSuccess();
        byte[] bytes = File.ReadAllBytes(disk);
        File.ReadAllBytes(part).CopyTo(bytes, 2048 * 512);

        using var whole = new MemoryDisk(bytes, canWrite: false);
        var layout = DiskInspector.Inspect(whole);

        Assert.That(layout.Volumes.Select(v => (v.Partition!.Number, v.FileSystem?.Kind)),
            Is.EqualTo(new (int, FileSystemKind?)[] { (1, FileSystemKind.Ext4), (2, null) }));
        Assert.That(layout.Volumes[0].FileSystem!.Label, Is.EqualTo("root"));
    }
}
