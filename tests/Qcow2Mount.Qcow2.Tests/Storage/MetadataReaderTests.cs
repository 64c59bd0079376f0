using System.Buffers.Binary;
using NUnit.Framework;
using Qcow2Mount.Qcow2.Check;
using Qcow2Mount.Qcow2.Create;
using Qcow2Mount.Qcow2.Format;
using Qcow2Mount.Qcow2.Storage;
using Qcow2Mount.TestSupport;

namespace Qcow2Mount.Qcow2.Tests.Storage;

/// <summary>The one header reader open and check share, and the refcount table as both read it.</summary>
[TestFixture]
internal class MetadataReaderTests
{
    private TempDir _temp = null!;

    [SetUp]
    public void SetUp() => _temp = new TempDir("metadata");

    [TearDown]
    public void TearDown() => _temp.Dispose();

    private string NewImage(CreateOptions options)
    {
        string path = _temp.Combine($"{Guid.NewGuid():N}.qcow2");
        ImageCreator.Create(path, options);
        return path;
    }

    private static void Patch(string path, long offset, Action<Span<byte>> patch)
    {
        var bytes = File.ReadAllBytes(path);
        patch(bytes.AsSpan((int)offset));
        File.WriteAllBytes(path, bytes);
    }

    private static IEnumerable<TestCaseData> HostileStarts()
    {
        yield return new TestCaseData(new byte[71], Qcow2ErrorCode.NotQcow2, "file too short").SetName("71 bytes");
        yield return new TestCaseData(new byte[4096], Qcow2ErrorCode.NotQcow2, "bad magic").SetName("zeros");
        var bigClusters = ValidStart();
        BinaryPrimitives.WriteUInt32BigEndian(bigClusters.AsSpan(20), 31);
        yield return new TestCaseData(bigClusters, Qcow2ErrorCode.InvalidHeader, "invalid cluster_bits 31").SetName("cluster_bits 31");
        var unknown = ValidStart();
        BinaryPrimitives.WriteUInt64BigEndian(unknown.AsSpan(72), 1UL << 40);
        yield return new TestCaseData(unknown, Qcow2ErrorCode.Unsupported, "unsupported qcow2 feature(s)").SetName("unknown incompatible bit");
    }

    /// <summary>The first cluster of a fresh 1 MiB v3 image.</summary>
    private static byte[] ValidStart()
    {
        using var temp = new TempDir("metadata-start");
        string path = temp.Combine("start.qcow2");
        ImageCreator.Create(path, new CreateOptions { Size = 1 << 20 });
        return File.ReadAllBytes(path);
    }

    [TestCaseSource(nameof(HostileStarts))]
    public void Open_and_check_refuse_a_bad_header_alike(byte[] image, Qcow2ErrorCode code, string reason)
    {
        string path = _temp.Combine("hostile.qcow2");
        File.WriteAllBytes(path, image);
        using (var file = HostFile.Open(path, writable: false))
        {
            var error = Assert.Throws<Qcow2Exception>(() => MetadataReader.ReadHeader(file))!;
            Assert.That(error.Code, Is.EqualTo(code));
            Assert.That(error.Message, Does.Contain(reason));
        }

        var opened = Assert.Throws<Qcow2Exception>(() => Qcow2Image.Open(path).Dispose())!;
        var check = ImageChecker.Check(path);
        Assert.Multiple(() =>
        {
            Assert.That(opened.Code, Is.EqualTo(code));
            Assert.That(opened.Message, Does.StartWith($"{path}: ").And.Contain(reason), "open names the file");
            Assert.That(check.CheckErrors, Is.EqualTo(1));
            Assert.That(check.Messages, Has.One.Contains(reason), "check reports the same reason");
        });
    }

    [Test]
    public void Reads_header_extensions_and_backing_name()
    {
        string backing = NewImage(new CreateOptions { Size = 1 << 20 });
        string overlay = NewImage(new CreateOptions { BackingFile = System.IO.Path.GetFileName(backing), BackingFormat = "qcow2" });
        using var file = HostFile.Open(overlay, writable: false);
        var read = MetadataReader.ReadHeader(file);
        Assert.Multiple(() =>
        {
            Assert.That(read.Header.Size, Is.EqualTo(1UL << 20));
            Assert.That(read.Extensions.BackingFormat, Is.EqualTo("qcow2"));
            Assert.That(read.BackingName(), Is.EqualTo(System.IO.Path.GetFileName(backing)));
            Assert.That(read.Cluster0, Has.Length.EqualTo(Math.Min(read.Header.ClusterSize, file.Length)));
        });
    }

    [Test]
    public void An_L1_table_past_the_end_is_corrupt_and_names_the_table()
    {
        string path = NewImage(new CreateOptions { Size = 1 << 20 });
        using var file = HostFile.Open(path, writable: false);
        var header = MetadataReader.ReadHeader(file).Header;
        var error = Assert.Throws<Qcow2Exception>(() =>
            MetadataReader.ReadL1(file, header.L1TableOffset, 1 << 16, header.ClusterSize, "snapshot 'x'"))!;
        Assert.Multiple(() =>
        {
            Assert.That(error.Code, Is.EqualTo(Qcow2ErrorCode.Corrupt));
            Assert.That(error.Message, Does.StartWith($"{path}: snapshot 'x': L1 table at 0x{header.L1TableOffset:x} is misplaced or past the end"));
            Assert.That(MetadataReader.ReadL1ForCheck(file, 1UL << 50, 2), Is.EqualTo(new[] { 0UL, 0UL }), "check reads past EOF as zeros");
        });
    }

    /// <summary>
    /// Regression: the writer tested the raw refcount table entry against 0 before masking, so an entry holding only
    /// reserved bits sent it to a "refcount block" at offset 0, the header. The offset decides (bits 9..63, as QEMU's
    /// REFT_OFFSET_MASK): such an entry means no block, and a write that needs one creates it.
    /// </summary>
    [Test]
    public void A_refcount_table_entry_with_only_reserved_bits_is_no_block()
    {
        // 512-byte clusters, 16-bit refcounts: one block counts 256 clusters (128 KiB), so 256 KiB of data needs block 1.
        string path = NewImage(new CreateOptions { Size = 1 << 20, ClusterSize = 512 });
        ulong tableOffset;
        using (var file = HostFile.Open(path, writable: false))
        {
            tableOffset = MetadataReader.ReadHeader(file).Header.RefcountTableOffset;
        }

        Patch(path, (long)tableOffset + 8, entry => BinaryPrimitives.WriteUInt64BigEndian(entry, 0x100));
        var data = new byte[256 << 10];
        new Random(11).NextBytes(data);
        using (var image = Qcow2Image.Open(path, new Qcow2OpenOptions { Writable = true }))
        {
            image.WriteAt(0, data);
            image.Flush();
        }

        var back = new byte[data.Length];
        using (var image = Qcow2Image.Open(path))
        {
            image.ReadAt(0, back);
        }

        var check = ImageChecker.Check(path);
        Assert.Multiple(() =>
        {
            Assert.That(back, Is.EqualTo(data));
            Assert.That((check.Corruptions, check.Leaks, check.CheckErrors), Is.EqualTo((0, 0, 0)), string.Join("\n", check.Messages));
        });
    }

    [Test]
    public void A_misaligned_refcount_block_is_corruption_for_the_writer_too()
    {
        string path = NewImage(new CreateOptions { Size = 1 << 20 });
        ulong tableOffset;
        using (var file = HostFile.Open(path, writable: false))
        {
            tableOffset = MetadataReader.ReadHeader(file).Header.RefcountTableOffset;
        }

        Patch(path, (long)tableOffset, entry =>
            BinaryPrimitives.WriteUInt64BigEndian(entry, new RefcountTableEntry(BinaryPrimitives.ReadUInt64BigEndian(entry)).BlockOffset + 0x200));
        var error = Assert.Throws<Qcow2Exception>(() =>
        {
            using var image = Qcow2Image.Open(path, new Qcow2OpenOptions { Writable = true });
            image.WriteAt(0, new byte[4096]);
            image.Flush();
        })!;
        Assert.That(error.Code, Is.EqualTo(Qcow2ErrorCode.Corrupt));
    }
}
