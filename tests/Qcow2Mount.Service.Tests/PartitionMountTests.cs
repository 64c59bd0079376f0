using System.Globalization;
using System.Security.Cryptography;
using Qcow2Mount.Control;
using Qcow2Mount.Control.Protocol;
using Qcow2Mount.Mounting;
using Qcow2Mount.Service.Tests.Support;
using Qcow2Mount.TestSupport;

namespace Qcow2Mount.Service.Tests;

/// <summary>
/// Partitions as files through a real FUSE mount: The Sleuth Kit opens each partition file directly, without
/// offsets, on disks made by sfdisk and mkfs and converted by qemu-img.
/// </summary>
[NonParallelizable]
internal sealed class PartitionMountTests
{
    private const long Sector = 512;

    private static string Invariant(long value) => value.ToString(CultureInfo.InvariantCulture);

    [Test]
    public async Task Sleuth_kit_reads_each_partition_file_of_an_mbr_disk_with_logical_partitions()
    {
        Requirements.FuseAndQemu();
        string mkfat = ExternalTool.RequireTool("mkfs.fat");
        string mkext4 = ExternalTool.RequireTool("mkfs.ext4");
        string mkntfs = ExternalTool.RequireTool("mkntfs");
        string mcopy = ExternalTool.RequireTool("mcopy");
        ExternalTool.RequireTool("bash");
        ExternalTool.RequireTool("mmls");
        ExternalTool.RequireTool("fls");
        string fsstat = ExternalTool.RequireTool("fsstat");
        using var dir = new TempDir("partitions-mbr");

        // 96 MiB: FAT32 in p1, an extended partition in slot 2 holding ext4 (p5) and NTFS (p6).
        string raw = dir.Combine("evidence.raw");
        GuestDiskTools.CreateSparse(raw, 96L << 20);

        GuestDiskTools.Sfdisk(raw, "label: dos\nstart=2048, size=69632, type=c\nstart=73728, size=122880, type=5\n" +
            "start=75776, size=40960, type=83\nstart=118784, size=77824, type=7\n");
        await File.WriteAllTextAsync(dir.Combine("NOTES.TXT"), "fat evidence\n");
        Directory.CreateDirectory(dir.Combine("root"));
        await File.WriteAllTextAsync(dir.Combine("root", "ext-evidence.txt"), "ext evidence\n");
        var fat = GuestDiskTools.Place(raw, dir.Combine("p1.img"), 2048, 69632, f =>
        {
            ExternalTool.Run(mkfat, ["-F", "32", "-n", "EVIDENCE", f]).EnsureSuccess();
            ExternalTool.Run(mcopy, ["-i", f, dir.Combine("NOTES.TXT"), "::/"]).EnsureSuccess();
        });
        var ext = GuestDiskTools.Place(raw, dir.Combine("p5.img"), 75776, 40960, f => ExternalTool.Run(mkext4, ["-q", "-F", "-L", "linux", "-d", dir.Combine("root"), f]).EnsureSuccess());
        var ntfs = GuestDiskTools.Place(raw, dir.Combine("p6.img"), 118784, 77824, f => ExternalTool.Run(mkntfs, ["-q", "-F", "-Q", "-L", "WINDOWS", f]).EnsureSuccess());
        string image = dir.Combine("evidence.qcow2");
        Images.Qemu("qemu-img", "convert", "-O", "qcow2", raw, image);
        Images.Qemu("qemu-img", "snapshot", "-c", "seized", image);

        await using var service = await ServiceSession.StartAsync();
        using var client = await service.ConnectAsync();
        string mountDir = service.NewMountDir();
        await client.MountAsync(new ControlMountRequest { Image = image, MountPoint = mountDir });
        string partitions = Path.Combine(mountDir, Volume.PartitionDirectoryName);
        string snapshotPartitions = Path.Combine(mountDir, Volume.SnapshotDirectoryName, "seized" + Volume.SnapshotPartitionSuffix);
        string[] names = [.. Directory.GetFiles(partitions).Select(Path.GetFileName).Order(StringComparer.Ordinal)!];
        string[] snapshotNames = [.. Directory.GetFiles(snapshotPartitions).Select(Path.GetFileName).Order(StringComparer.Ordinal)!];
        string mmls = ExternalTool.Run("mmls", [Path.Combine(mountDir, Volume.DiskFileName)]).EnsureSuccess().StandardOutput;
        string fatFiles = ExternalTool.Run("fls", [Path.Combine(partitions, "p1.raw")]).EnsureSuccess().StandardOutput;
        string extFiles = ExternalTool.Run("fls", [Path.Combine(partitions, "p5.raw")]).EnsureSuccess().StandardOutput;
        string snapshotExtFiles = ExternalTool.Run("fls", [Path.Combine(snapshotPartitions, "p5.raw")]).EnsureSuccess().StandardOutput;
        string ntfsStat = ExternalTool.Run(fsstat, [Path.Combine(partitions, "p6.raw")]).EnsureSuccess().StandardOutput;
        string[] hashes = [.. new[] { "p1.raw", "p5.raw", "p6.raw" }.Select(n => Convert.ToHexString(SHA256.HashData(File.ReadAllBytes(Path.Combine(partitions, n)))))];
        long p5Length = new FileInfo(Path.Combine(partitions, "p5.raw")).Length;
        bool writeRefused = false;
        try
        {
            await using var stream = new FileStream(Path.Combine(partitions, "p5.raw"), FileMode.Open, FileAccess.Write);
        }
        catch (Exception e) when (e is UnauthorizedAccessException or IOException)
        {
            writeRefused = true; // EROFS
        }

        await client.UnmountAsync(mountDir);

        Assert.Multiple(() =>
        {
            Assert.That(names, Is.EqualTo(new[] { "p1.raw", "p5.raw", "p6.raw" }));
            Assert.That(snapshotNames, Is.EqualTo(names));
            // mmls on the whole disk shows where each file's bytes come from.
            Assert.That(mmls, Does.Match(@"0000002048\s+0000071679\s+0000069632"));
            Assert.That(mmls, Does.Match(@"0000075776\s+0000116735\s+0000040960"));
            Assert.That(mmls, Does.Match(@"0000118784\s+0000196607\s+0000077824"));
            Assert.That(fatFiles, Does.Contain("NOTES.TXT"));
            Assert.That(extFiles, Does.Contain("ext-evidence.txt"));
            Assert.That(snapshotExtFiles, Does.Contain("ext-evidence.txt"));
            Assert.That(ntfsStat, Does.Contain("NTFS").And.Contains("WINDOWS"));
            Assert.That(hashes, Is.EqualTo(new[] { fat, ext, ntfs }.Select(b => Convert.ToHexString(SHA256.HashData(b)))));
            Assert.That(p5Length, Is.EqualTo(40960 * Sector));
            Assert.That(writeRefused, Is.True, "a read-only mount's partition files refuse writes");
        });
    }

    [Test]
    public async Task A_gpt_disk_shows_its_partitions_and_an_overlay_mount_writes_inside_one_only()
    {
        Requirements.FuseAndQemu();
        string mkfat = ExternalTool.RequireTool("mkfs.fat");
        ExternalTool.RequireTool("bash");
        ExternalTool.RequireTool("fls");
        ExternalTool.RequireTool("mmls");
        using var dir = new TempDir("partitions-gpt");
        string raw = dir.Combine("gpt.raw");
        GuestDiskTools.CreateSparse(raw, 48L << 20);

        GuestDiskTools.Sfdisk(raw, "label: gpt\nstart=2048, size=40960, type=C12A7328-F81F-11D2-BA4B-00A0C93EC93B\nstart=43008, size=8192\n");
        GuestDiskTools.Place(raw, dir.Combine("esp.img"), 2048, 40960, f => ExternalTool.Run(mkfat, ["-F", "16", "-n", "ESP", f]).EnsureSuccess());
        string image = dir.Combine("gpt.qcow2");
        Images.Qemu("qemu-img", "convert", "-O", "qcow2", raw, image);
        string before = Images.Sha256(image);

        await using var service = await ServiceSession.StartAsync();
        using var client = await service.ConnectAsync();
        string mountDir = service.NewMountDir();
        await client.MountAsync(new ControlMountRequest { Image = image, MountPoint = mountDir, Mode = ControlMountModes.Overlay });
        string p2 = Path.Combine(mountDir, Volume.PartitionDirectoryName, "p2.raw");
        string esp = ExternalTool.Run("fls", [Path.Combine(mountDir, Volume.PartitionDirectoryName, "p1.raw")]).EnsureSuccess().StandardOutput;
        await using (var stream = new FileStream(p2, FileMode.Open, FileAccess.Write))
        {
            // Written at the last 4 KiB of p2, then past its end: the file does not grow.
            stream.Position = (8192 * Sector) - 4096;
            await stream.WriteAsync(Enumerable.Repeat((byte)0xAB, 4096).ToArray());
        }

        bool grew;
        try
        {
            await using var stream = new FileStream(p2, FileMode.Open, FileAccess.Write);
            stream.Position = 8192 * Sector;
            await stream.WriteAsync(new byte[512]);
            await stream.FlushAsync();
            grew = new FileInfo(p2).Length != 8192 * Sector;
        }
        catch (IOException)
        {
            grew = false;
        }

        byte[] disk = new byte[8192];
        await using (var stream = new FileStream(Path.Combine(mountDir, Volume.DiskFileName), FileMode.Open, FileAccess.Read))
        {
            stream.Position = ((43008 + 8192) * Sector) - 4096;
            await stream.ReadExactlyAsync(disk);
        }

        await client.UnmountAsync(mountDir);

        Assert.Multiple(() =>
        {
            Assert.That(esp, Does.Contain("ESP").Or.Contain("$MBR").Or.Contain("$FAT1"));
            Assert.That(disk.AsSpan(0, 4096).ToArray(), Is.All.EqualTo((byte)0xAB), "the write landed at the end of p2 in disk.raw");
            Assert.That(disk.AsSpan(4096).ToArray(), Is.All.Not.EqualTo((byte)0xAB), "nothing past p2 changed");
            Assert.That(grew, Is.False, "p2.raw never grows past its partition");
            Assert.That(Images.Sha256(image), Is.EqualTo(before), "an overlay mount leaves the image untouched");
        });
    }
}
