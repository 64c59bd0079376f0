using System.Security.Cryptography;
using Qcow2Mount.Mounting.Partitions;
using Qcow2Mount.Qcow2;
using Qcow2Mount.Qcow2.Mapping;

namespace Qcow2Mount.Operations.Tests;

/// <summary>Report, map, compare, diff and hash verification: options reach the engine, answers come back whole.</summary>
internal sealed class ForensicOperationTests
{
    private TempDir _dir = null!;

    [SetUp]
    public void SetUp() => _dir = new TempDir("ops-forensic");

    [TearDown]
    public void TearDown() => _dir.Dispose();

    private static void Overwrite(string image, long offset, byte[] bytes)
    {
        using var disk = Qcow2Image.Open(image, new Qcow2OpenOptions { Writable = true });
        disk.WriteAt(offset, bytes);
        disk.Flush();
    }

    [Test]
    public async Task Map_streams_runs_that_cover_the_disk_in_order()
    {
        string image = _dir.Combine("disk.qcow2");
        SourceImages.Filled(image, 3 << 20);
        var entries = new List<MapEntry>();

        long count = await ImageOperations.MapAsync(new MapOptions { Image = image }, entries.Add);

        Assert.That(count, Is.EqualTo(entries.Count));
        Assert.That(entries[0].Start, Is.Zero);
        Assert.That(entries.Zip(entries.Skip(1)).All(p => p.First.End == p.Second.Start), Is.True);
        Assert.That(entries[^1].End, Is.EqualTo(3 << 20));
        Assert.That(entries.All(e => e is { Data: true, Present: true, Depth: 0 }), Is.True);
    }

    [Test]
    public async Task Compare_finds_the_first_difference_and_says_which_stage_failed()
    {
        string a = _dir.Combine("a.qcow2"), b = _dir.Combine("b.qcow2");
        SourceImages.Filled(a, 2 << 20);
        SourceImages.Filled(b, 2 << 20);
        var same = await ImageOperations.CompareAsync(new CompareOptions { First = a, Second = b });
        Assert.That(same.Identical, Is.True);

        Overwrite(b, 5000, [0xEE]);
        var different = await ImageOperations.CompareAsync(new CompareOptions { First = a, Second = b });
        Assert.That(different.Identical, Is.False);
        Assert.That(different.Messages, Does.Contain("Content mismatch at offset 4608!"), "the sector holding byte 5000");

        var missing = Assert.ThrowsAsync<CompareException>(() => ImageOperations.CompareAsync(new CompareOptions { First = a, Second = _dir.Combine("none.qcow2") }))!;
        Assert.That((missing.Stage, missing.Operation.Code), Is.EqualTo((CompareStage.Opening, OperationErrorCode.MissingFile)));
    }

    [Test]
    public async Task Diff_between_a_snapshot_and_the_active_layer_gives_the_rewritten_sectors()
    {
        string image = _dir.Combine("disk.qcow2");
        SourceImages.Filled(image, 2 << 20);
        await ImageOperations.ChangeSnapshotAsync(new SnapshotChangeOptions { Image = image, Change = SnapshotChange.Create, Name = "before" });
        Overwrite(image, 1 << 20, new byte[1024]);

        var diff = await ImageOperations.DiffAsync(new DiffOptions { Image = image, From = "before", To = "active" });
        Assert.That(diff.Ranges, Is.EqualTo(new[] { new DiffRange(1 << 20, 1024) }));

        var missing = Assert.ThrowsAsync<OperationException>(() => ImageOperations.DiffAsync(new DiffOptions { Image = image, From = "nope", To = "active" }))!;
        Assert.That(missing.Code, Is.EqualTo(OperationErrorCode.SnapshotNotFound));
    }

    [Test]
    public async Task Verify_checks_each_recorded_digest()
    {
        string image = _dir.Combine("disk.qcow2");
        byte[] guest = SourceImages.Filled(image, 1 << 20);
        string sha256 = Convert.ToHexStringLower(SHA256.HashData(guest));
        string md5 = Convert.ToHexStringLower(MD5.HashData(guest));
        string record = _dir.Combine("record");

        await File.WriteAllTextAsync(record, $"{{\"image\": \"x\", \"virtual-size\": 1048576, \"md5\": \"{md5}\", \"sha256\": \"{sha256.ToUpperInvariant()}\"}}");
        var ok = await ImageOperations.VerifyHashAsync(new VerifyHashOptions { Image = image, RecordFile = record });
        Assert.That((ok.AllMatch, ok.Checks.Select(c => c.Algorithm)), Is.EqualTo((true, new[] { DigestAlgorithm.Md5, DigestAlgorithm.Sha256 })));

        await File.WriteAllTextAsync(record, $"{new string('1', 64)}  disk.raw\n");
        var bad = await ImageOperations.VerifyHashAsync(new VerifyHashOptions { Image = image, RecordFile = record });
        Assert.That((bad.AllMatch, bad.Checks[0].Actual), Is.EqualTo((false, sha256)));

        await File.WriteAllTextAsync(record, "not a record\n");
        var none = Assert.ThrowsAsync<OperationException>(() => ImageOperations.VerifyHashAsync(new VerifyHashOptions { Image = image, RecordFile = record }))!;
        Assert.That(none.Code, Is.EqualTo(OperationErrorCode.InvalidOptions));
    }

    [Test]
    public async Task Report_records_the_host_file_the_layers_and_the_digests_without_changing_the_image()
    {
        string image = _dir.Combine("disk.qcow2");
        byte[] guest = SourceImages.Filled(image, 2 << 20);
        await ImageOperations.ChangeSnapshotAsync(new SnapshotChangeOptions { Image = image, Change = SnapshotChange.Create, Name = "s1" });
        Overwrite(image, 0, new byte[4096]);
        byte[] snapshotGuest = [.. guest];
        Array.Clear(guest, 0, 4096);
        var mtime = File.GetLastWriteTimeUtc(image);
        string hostSha = Convert.ToHexStringLower(SHA256.HashData(File.ReadAllBytes(image)));
        var progress = new RecordingProgress();

        var report = await ImageOperations.ReportAsync(new ReportOptions { Image = image, Algorithms = [DigestAlgorithm.Sha256] }, progress);

        Assert.That(report.Files.Select(f => (f.Path, f.Sha256, f.Size, f.Modified.UtcDateTime)),
            Is.EqualTo(new[] { (image, hostSha, new FileInfo(image).Length, mtime) }));
        Assert.That((report.VirtualSize, report.Layers[0].AllocatedBytes), Is.EqualTo((2L << 20, 2L << 20)));
        Assert.That(report.Snapshots.Select(s => s.Name), Is.EqualTo(new[] { "s1" }));
        Assert.That(report.Partitions.Scheme, Is.EqualTo(PartitionScheme.None));
        Assert.That(report.Digests.Select(d => (d.Snapshot, d.Digests[0].Hex)), Is.EqualTo(new[]
        {
            ((string?)null, Convert.ToHexStringLower(SHA256.HashData(guest))),
            ("s1", Convert.ToHexStringLower(SHA256.HashData(snapshotGuest))),
        }));
        Assert.That(progress.Reports[^1], Is.EqualTo(new OperationProgress(4L << 20, 4L << 20)));
        Assert.That((File.GetLastWriteTimeUtc(image), Convert.ToHexStringLower(SHA256.HashData(File.ReadAllBytes(image)))), Is.EqualTo((mtime, hostSha)));
    }
}
