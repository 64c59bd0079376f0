using System.Text.Json;
using NUnit.Framework;
using Qcow2Mount.Qcow2.Mapping;
using Qcow2Mount.TestSupport;

namespace Qcow2Mount.Qcow2.Tests.Mapping;

/// <summary><see cref="DiskMap"/> against <c>qemu-img map --output=json</c>: same runs, same fields, same merging.</summary>
[TestFixture]
[Parallelizable(ParallelScope.All)]
internal class DiskMapTests
{
    /// <summary>qemu-img map's JSON lines as (start, length, depth, present, zero, data, offset).</summary>
    private static List<(long, long, int, bool, bool, bool, long?)> QemuMap(string image, string? format = null)
    {
        // In the image's folder: relative data file names resolve against it, as they do for QEMU's users.
        var (code, json, stderr) = QemuTools.RunIn(Path.GetDirectoryName(image), QemuTools.QemuImg,
            format is null ? ["map", "--output=json", image] : ["map", "--output=json", "-f", format, image]);
        Assert.That(code, Is.Zero, stderr);
        using var document = JsonDocument.Parse(json);
        return document.RootElement.EnumerateArray().Select(e => (
            e.GetProperty("start").GetInt64(), e.GetProperty("length").GetInt64(), e.GetProperty("depth").GetInt32(),
            e.GetProperty("present").GetBoolean(), e.GetProperty("zero").GetBoolean(), e.GetProperty("data").GetBoolean(),
            e.TryGetProperty("offset", out var offset) ? offset.GetInt64() : (long?)null)).ToList();
    }

    private static List<(long, long, int, bool, bool, bool, long?)> OurMap(IVirtualDisk disk) =>
        DiskMap.Map(disk).Select(e => (e.Start, e.Length, e.Depth, e.Present, e.Zero, e.Data, e.Offset)).ToList();

    private static IEnumerable<TestCaseData> ActiveViews() => Corpus.Entries.Where(c => c.Arguments[0] is CorpusEntry { Snapshot: null });

    [TestCaseSource(nameof(ActiveViews))]
    public void Maps_as_qemu_img_maps(CorpusEntry e)
    {
        using var image = Qcow2Image.Open(e.ImagePath, new Qcow2OpenOptions());
        var ours = OurMap(image);
        var qemu = QemuMap(e.ImagePath);
        Assert.That(ours, Is.EqualTo(qemu), () => $"{e.ViewName}\nours: {string.Join("\n", ours)}\nqemu: {string.Join("\n", qemu)}");
    }

    [Test]
    public void A_chain_over_a_qcow2_and_a_raw_backing_maps_as_qemu_img_maps()
    {
        using var dir = new TempDir("map-chain");
        string raw = dir.Combine("base.raw");
        string mid = dir.Combine("mid.qcow2");
        string top = dir.Combine("top.qcow2");
        using (var file = File.OpenHandle(raw, FileMode.CreateNew, FileAccess.ReadWrite))
        {
            RandomAccess.SetLength(file, 3 << 20); // sparse: holes read as zeros, and qemu says so
        }

        QemuTools.Ok(QemuTools.QemuIo, "-f", "raw", "-c", "write -P 1 64k 128k", "-c", "write -P 2 2M 4k", raw);
        QemuTools.Ok(QemuTools.QemuImg, "create", "-q", "-f", "qcow2", "-b", raw, "-F", "raw", mid, "4M");
        QemuTools.Ok(QemuTools.QemuIo, "-c", "write -P 3 0 64k", "-c", "write -z 128k 64k", "-c", "write -P 4 3M 64k", mid);
        QemuTools.Ok(QemuTools.QemuImg, "create", "-q", "-f", "qcow2", "-b", mid, "-F", "qcow2", top, "6M");
        QemuTools.Ok(QemuTools.QemuIo, "-c", "write -P 5 32k 64k", "-c", "write -z -u 3M 64k", "-c", "write -P 6 5M 4k", top);

        using var image = Qcow2Image.Open(top, new Qcow2OpenOptions());
        var ours = OurMap(image);

        var qemu = QemuMap(top);
        Assert.That(ours, Is.EqualTo(qemu), () => $"ours: {string.Join("\n", ours)}\nqemu: {string.Join("\n", qemu)}");
        Assert.That(ours.Select(e => e.Item3).Distinct(), Is.EquivalentTo(new[] { 0, 1, 2 }), "runs decided at every depth");
    }

    [Test]
    public void A_raw_disk_maps_its_holes_as_qemu_img_does()
    {
        using var dir = new TempDir("map-raw");
        string raw = dir.Combine("disk.raw");
        using (var file = File.OpenHandle(raw, FileMode.CreateNew, FileAccess.ReadWrite))
        {
            RandomAccess.SetLength(file, 1 << 20);
        }

        QemuTools.Ok(QemuTools.QemuIo, "-f", "raw", "-c", "write -P 1 256k 64k", raw);
        using var disk = VirtualDisk.Open(raw, "raw");

        Assert.That(OurMap(disk), Is.EqualTo(QemuMap(raw, "raw")));
    }

    [Test]
    public void Merged_runs_follow_qemu_img_rules()
    {
        var a = new MapEntry(0, 4096, 0, true, false, true, false, 8192, "f");
        Assert.Multiple(() =>
        {
            Assert.That(a.CanMergeWith(a with { Start = 4096, Offset = 12288 }), Is.True, "contiguous host offsets");
            Assert.That(a.CanMergeWith(a with { Start = 4096, Offset = 65536 }), Is.False, "host offsets jump");
            Assert.That(a.CanMergeWith(a with { Start = 4096, Offset = 12288, Depth = 1 }), Is.False, "another layer");
            Assert.That(a.CanMergeWith(a with { Start = 4096, Offset = null }), Is.False, "offset known on one side only");
        });
    }
}
