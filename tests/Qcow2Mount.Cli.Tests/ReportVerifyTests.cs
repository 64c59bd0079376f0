using System.Text.Json;

namespace Qcow2Mount.Cli.Tests;

/// <summary>
/// <c>report</c> on a disk made by sfdisk and mkfs: the partitions and file systems those tools wrote, sha256 fields
/// equal to sha256sum's, and the image untouched; <c>hash --verify</c> on recorded digests.
/// </summary>
[TestFixture]
internal sealed class ReportVerifyTests
{
    private const long Sector = 512;
    private TempDir _dir = null!;
    private string _image = null!;
    private string _base = null!;

    [OneTimeSetUp]
    public void CreateImages()
    {
        Qemu.RequireInstalled();
        string mkfat = ExternalTool.RequireTool("mkfs.fat");
        string mkext4 = ExternalTool.RequireTool("mkfs.ext4");
        _dir = new TempDir("cli-report");
        string raw = _dir.Combine("evidence.raw");
        GuestDiskTools.CreateSparse(raw, 96L << 20);

        // p1 FAT32 at 1 MiB (48 MiB: enough clusters for FAT32), p2 ext4 (45 MiB) after it.
        GuestDiskTools.Sfdisk(raw, "label: dos\nlabel-id: 0x1234abcd\nstart=2048, size=98304, type=c\nstart=100352, size=92160, type=83\n");
        GuestDiskTools.Place(raw, _dir.Combine("p1.img"), 2048, 98304, f => ExternalTool.Run(mkfat, ["-F", "32", "-n", "EVIDENCE", "-i", "1a2b3c4d", f]).EnsureSuccess());
        GuestDiskTools.Place(raw, _dir.Combine("p2.img"), 100352, 92160, f => ExternalTool.Run(mkext4, ["-q", "-F", "-L", "linux", "-U", "0b7c9e3a-5d1f-4a6e-9c2b-8f0e1d2c3b4a", f]).EnsureSuccess());
        _base = _dir.Combine("base.qcow2");
        Qemu.Img("convert", "-O", "qcow2", raw, _base);
        _image = _dir.Combine("evidence.qcow2");
        Qemu.Img("create", "-q", "-f", "qcow2", "-b", _base, "-F", "qcow2", _image);
        Qemu.Img("snapshot", "-c", "seized", _image);
        Qemu.Io(null, _image, "write -P 0x5a 40M 64k");
        File.Delete(raw);
    }

    [OneTimeTearDown]
    public void DeleteImages() => _dir?.Dispose();

    private static string Sha256Sum(string path) =>
        ExternalTool.Run(ExternalTool.RequireTool("sha256sum"), [path]).StandardOutput.Split(' ')[0];

    private string GuestSha256(params string[] select)
    {
        string raw = _dir.Combine("guest.raw");
        Qemu.Img(["convert", .. select, "-O", "raw", _image, raw]);
        string hex = Sha256Sum(raw);
        File.Delete(raw);
        return hex;
    }

    [Test]
    public void Report_json_shows_the_partitions_file_systems_and_host_digests_and_leaves_the_chain_untouched()
    {
        string[] chain = [_image, _base];
        var before = chain.Select(f => (Sha256Sum(f), File.GetLastWriteTimeUtc(f))).ToList();

        var result = CliRunner.Run("report", _image, "--json", "--hash", "sha256").Succeeded();

        using var json = JsonDocument.Parse(result.Output);
        var root = json.RootElement;
        var files = root.GetProperty("files").EnumerateArray().ToList();
        Assert.That(files.Select(f => f.GetProperty("path").GetString()), Is.EqualTo(chain));
        for (int i = 0; i < chain.Length; i++)
        {
            Assert.That(files[i].GetProperty("sha256").GetString(), Is.EqualTo(before[i].Item1), chain[i]);
            Assert.That(files[i].GetProperty("size").GetInt64(), Is.EqualTo(new FileInfo(chain[i]).Length));
            Assert.That(DateTime.Parse(files[i].GetProperty("modified").GetString()!, null, System.Globalization.DateTimeStyles.AdjustToUniversal | System.Globalization.DateTimeStyles.AssumeUniversal),
                Is.EqualTo(before[i].Item2));
            Assert.That(files[i].GetProperty("format").GetString(), Is.EqualTo("qcow2"));
            Assert.That(files[i].GetProperty("dirty").GetBoolean(), Is.False);
        }

        var disk = root.GetProperty("disk");
        Assert.That(disk.GetProperty("virtual-size").GetInt64(), Is.EqualTo(96L << 20));
        var layers = disk.GetProperty("layers").EnumerateArray().Select(l => l.GetProperty("allocated-bytes").GetInt64()).ToList();
        Assert.That(layers[0], Is.EqualTo(64 << 10), "the overlay holds the one 64 KiB write");
        Assert.That(layers[1], Is.GreaterThan(0));

        Assert.That(root.GetProperty("snapshots").EnumerateArray().Select(s => s.GetProperty("name").GetString()), Is.EqualTo(new[] { "seized" }));

        var table = root.GetProperty("partition-table");
        Assert.That(table.GetProperty("scheme").GetString(), Is.EqualTo("mbr"));
        Assert.That(table.GetProperty("disk-signature").GetString(), Is.EqualTo("0x1234abcd"));
        var volumes = table.GetProperty("volumes").EnumerateArray().ToList();
        Assert.That(volumes.Select(v => (v.GetProperty("file").GetString(), v.GetProperty("start").GetInt64(), v.GetProperty("length").GetInt64(), v.GetProperty("type").GetString())),
            Is.EqualTo(new[] { ("p1.raw", 2048 * Sector, 98304 * Sector, "0x0c"), ("p2.raw", 100352 * Sector, 92160 * Sector, "0x83") }));
        var fat = volumes[0].GetProperty("file-system");
        Assert.That((fat.GetProperty("type").GetString(), fat.GetProperty("label").GetString(), fat.GetProperty("uuid").GetString()),
            Is.EqualTo(("vfat", "EVIDENCE", "1A2B-3C4D")));
        var ext = volumes[1].GetProperty("file-system");
        Assert.That((ext.GetProperty("type").GetString(), ext.GetProperty("label").GetString(), ext.GetProperty("uuid").GetString()),
            Is.EqualTo(("ext4", "linux", "0b7c9e3a-5d1f-4a6e-9c2b-8f0e1d2c3b4a")));

        var digests = root.GetProperty("digests").EnumerateArray().ToDictionary(d => d.GetProperty("view").GetString()!, d => d.GetProperty("sha256").GetString());
        Assert.That(digests["active"], Is.EqualTo(GuestSha256()));
        Assert.That(digests["seized"], Is.EqualTo(GuestSha256("-l", "seized")));

        var after = chain.Select(f => (Sha256Sum(f), File.GetLastWriteTimeUtc(f))).ToList();
        Assert.That(after, Is.EqualTo(before), "report must not change any file of the chain");
    }

    [Test]
    public void Report_text_is_readable_at_a_glance()
    {
        var text = CliRunner.Run("report", _image).Succeeded().Output;
        Assert.That(text, Does.Contain("Partitions:   MBR, 2 data partition(s)"));
        Assert.That(text, Does.Match(@"p1\.raw\s+start 1048576\s+length 50331648\s+W95 FAT32 \(LBA\)\s+FAT32 label ""EVIDENCE"" uuid 1A2B-3C4D"));
        Assert.That(text, Does.Contain("ext4 label \"linux\" uuid 0b7c9e3a-5d1f-4a6e-9c2b-8f0e1d2c3b4a"));
        Assert.That(text, Does.Contain("seized"));
        Assert.That(text, Does.Contain($"sha256 {Sha256Sum(_image)}"));
    }

    [Test]
    public void Verify_accepts_the_json_record_of_hash_and_exits_15_when_the_guest_changed()
    {
        string record = _dir.Combine("record.json");
        File.WriteAllText(record, CliRunner.Run("hash", _image, "--json", "-a", "md5,sha256").Succeeded().Output);

        var ok = CliRunner.Run("hash", _image, "--verify", record).Succeeded();
        Assert.That(ok.Output, Does.Contain("md5  OK").And.Contain("sha256  OK"));

        // The record of another view does not match this one.
        var other = CliRunner.Run("hash", _image, "--snapshot", "seized", "--verify", record);
        Assert.That(other.ExitCode, Is.EqualTo(16), other.Error);
        Assert.That(other.Output, Does.Contain("md5  MISMATCH").And.Contain("sha256  MISMATCH"));
    }

    [Test]
    public void Verify_accepts_sha256sum_lines_naming_disk_raw_or_the_image()
    {
        string expected = GuestSha256();
        string record = _dir.Combine("SHA256SUMS");
        File.WriteAllText(record, $"{new string('0', 64)}  other.img\n{expected}  /mnt/evidence/disk.raw\n");
        var ok = CliRunner.Run("hash", _image, "--verify", record).Succeeded();
        Assert.That(ok.Output, Is.EqualTo($"sha256  OK        {expected}\n"));

        File.WriteAllText(record, $"{new string('f', 64)} *evidence.qcow2\n");
        Assert.That(CliRunner.Run("hash", _image, "--verify", record).ExitCode, Is.EqualTo(16));

        File.WriteAllText(record, $"{expected}  unrelated.img\n");
        var none = CliRunner.Run("hash", _image, "--verify", record);
        Assert.That(none.ExitCode, Is.EqualTo(1));
        Assert.That(none.Error, Does.Contain("no digest of evidence.qcow2 or disk.raw"));
    }
}
