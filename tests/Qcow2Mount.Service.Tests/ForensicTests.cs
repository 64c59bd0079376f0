using System.Text;
using Qcow2Mount.Control;
using Qcow2Mount.Mounting;
using Qcow2Mount.Service.Tests.Support;
using Qcow2Mount.TestSupport;

namespace Qcow2Mount.Service.Tests;

/// <summary>What examiners do with a mounted image: The Sleuth Kit reads the partition table and the files in disk.raw.</summary>
[NonParallelizable]
internal sealed class ForensicTests
{
    private const long PartitionStartSector = 2048;
    private const long PartitionSectors = 30720; // 15 MiB

    [Test]
    public async Task Sleuth_kit_finds_the_partition_and_the_files_on_disk_raw()
    {
        Requirements.FuseAndQemu();
        string mkfs = ExternalTool.RequireTool("mkfs.fat");
        string mcopy = ExternalTool.RequireTool("mcopy");
        ExternalTool.RequireTool("mmls");
        ExternalTool.RequireTool("fls");
        using var dir = new TempDir("forensic");

        // A 16 MiB disk: an MBR with one FAT partition at sector 2048, holding two known files.
        string raw = dir.Combine("evidence.raw");
        GuestDiskTools.CreateSparse(raw, 16L << 20);
        GuestDiskTools.Sfdisk(raw, $"label: dos\nstart={PartitionStartSector}, size={PartitionSectors}, type=c\n");
        string partition = dir.Combine("partition.img");
        ExternalTool.Run(mkfs, ["-C", "-n", "EVIDENCE", partition, (PartitionSectors / 2).ToString(System.Globalization.CultureInfo.InvariantCulture)]).EnsureSuccess();
        await File.WriteAllTextAsync(dir.Combine("README.TXT"), "known content\n");
        await File.WriteAllBytesAsync(dir.Combine("LEDGER.BIN"), Encoding.ASCII.GetBytes(new string('L', 70_000)));
        ExternalTool.Run(mcopy, ["-i", partition, dir.Combine("README.TXT"), dir.Combine("LEDGER.BIN"), "::/"]).EnsureSuccess();
        byte[] fat = await File.ReadAllBytesAsync(partition);
        using (var file = File.OpenHandle(raw, FileMode.Open, FileAccess.ReadWrite))
        {
            RandomAccess.Write(file, fat, PartitionStartSector * 512);
        }

        string image = dir.Combine("evidence.qcow2");
        Images.Qemu("qemu-img", "convert", "-O", "qcow2", raw, image);

        await using var service = await ServiceSession.StartAsync();
        using var client = await service.ConnectAsync();
        string mountDir = service.NewMountDir();
        await client.MountAsync(new ControlMountRequest { Image = image, MountPoint = mountDir });
        string diskRaw = Path.Combine(mountDir, Volume.DiskFileName);
        var partitions = ExternalTool.Run("mmls", [diskRaw]).EnsureSuccess().StandardOutput;
        var files = ExternalTool.Run("fls", ["-o", PartitionStartSector.ToString(System.Globalization.CultureInfo.InvariantCulture), diskRaw]).EnsureSuccess().StandardOutput;
        await client.UnmountAsync(mountDir);

        Assert.Multiple(() =>
        {
            Assert.That(partitions, Does.Contain("DOS Partition Table"));
            Assert.That(partitions, Does.Match(@"0000002048\s+0000032767\s+0000030720"));
            Assert.That(files, Does.Contain("README.TXT"));
            Assert.That(files, Does.Contain("LEDGER.BIN"));
        });
    }
}
