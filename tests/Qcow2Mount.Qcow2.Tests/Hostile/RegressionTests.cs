using System.Buffers.Binary;
using System.Text;
using NUnit.Framework;
using Qcow2Mount.TestSupport;

namespace Qcow2Mount.Qcow2.Tests.Hostile;

/// <summary>One test per hostile input that once crashed the engine or slipped through: each patches a valid image.</summary>
[TestFixture]
internal class RegressionTests
{
    private static byte[] Load(string name)
    {
        Corpus.LoadHostileEntries();
        return File.ReadAllBytes(Path.Combine(Corpus.RootDirectory!, "hostile", "images", "src", name));
    }

    private static Qcow2Exception OpenFails(byte[] image, Qcow2OpenOptions? options = null, Action<Qcow2Image>? use = null)
    {
        using var temp = new TestSupport.TempDir("regression");
        string path = temp.Combine("image.qcow2");
        File.WriteAllBytes(path, image);
        var error = Assert.Throws<Qcow2Exception>(() =>
        {
            using var disk = Qcow2Image.Open(path, options);
            use?.Invoke(disk);
        })!;
        Assert.That(error.Message, Does.Contain(path));
        return error;
    }

    private static int SnapshotTable(byte[] b) => (int)BinaryPrimitives.ReadUInt64BigEndian(b.AsSpan(64));

    /// <summary>backing_file_offset + backing_file_size wrapped around 2^64 and passed the "inside cluster 0" check.</summary>
    [Test]
    public void Backing_name_offset_that_overflows_is_an_invalid_header()
    {
        var b = Load("overlay.qcow2");
        BinaryPrimitives.WriteUInt64BigEndian(b.AsSpan(8), ulong.MaxValue - 3);
        Assert.That(OpenFails(b, new Qcow2OpenOptions { IgnoreBacking = true }).Code, Is.EqualTo(Qcow2ErrorCode.InvalidHeader));
    }

    /// <summary>A NUL in the backing file name made path resolution throw ArgumentException.</summary>
    [Test]
    public void Backing_name_with_a_NUL_byte_is_refused()
    {
        var b = Load("overlay.qcow2");
        int at = (int)BinaryPrimitives.ReadUInt64BigEndian(b.AsSpan(8));
        b[at + 1] = 0;
        Assert.That(OpenFails(b).Code, Is.EqualTo(Qcow2ErrorCode.InvalidHeader));
    }

    /// <summary>A cluster-aligned snapshot L1 offset near 2^64: offset + size wrapped, and the read got a negative offset.</summary>
    [Test]
    public void Snapshot_L1_offset_that_overflows_is_corrupt()
    {
        var b = Load("snap.qcow2");
        BinaryPrimitives.WriteUInt64BigEndian(b.AsSpan(SnapshotTable(b)), ulong.MaxValue << 16);
        BinaryPrimitives.WriteUInt32BigEndian(b.AsSpan(SnapshotTable(b) + 8), 0x10000); // 512 KiB of L1: the sum wraps
        Assert.That(OpenFails(b, new Qcow2OpenOptions { Snapshot = "s1" }).Code, Is.EqualTo(Qcow2ErrorCode.Corrupt));
    }

    /// <summary>A snapshot disk_size of 2^63 or more became a negative guest length.</summary>
    [TestCase(1UL << 63)]
    [TestCase((1UL << 62) | 1)]
    [TestCase(64UL << 30)] // larger than the snapshot's L1 table (1 entry, 512 MiB) can map
    public void Snapshot_disk_size_out_of_range_is_an_invalid_header(ulong diskSize)
    {
        var b = Load("snap.qcow2");
        int entry = SnapshotTable(b);
        Assert.That(BinaryPrimitives.ReadUInt32BigEndian(b.AsSpan(entry + 36)), Is.GreaterThanOrEqualTo(16), "extra data holds disk_size");
        BinaryPrimitives.WriteUInt64BigEndian(b.AsSpan(entry + 40 + 8), diskSize);
        Assert.That(OpenFails(b, new Qcow2OpenOptions { Snapshot = "s1" }).Code, Is.EqualTo(Qcow2ErrorCode.InvalidHeader));
    }

    /// <summary>The patched source must itself be fine, or the tests above prove nothing.</summary>
    [Test]
    public void Unpatched_sources_open_and_read()
    {
        using var temp = new TestSupport.TempDir("regression");
        foreach (var (name, snapshot) in new[] { ("overlay.qcow2", (string?)null), ("snap.qcow2", "s1") })
        {
            string path = temp.Combine(name);
            File.WriteAllBytes(path, Load(name));
            using var image = Qcow2Image.Open(path, new Qcow2OpenOptions { Snapshot = snapshot, IgnoreBacking = true });
            Assert.That(image.ReadAt(0, new byte[4096]), Is.EqualTo(4096));
            Assert.That(Encoding.UTF8.GetString(File.ReadAllBytes(path).AsSpan(0, 3)), Is.EqualTo("QFI"));
        }
    }
}
