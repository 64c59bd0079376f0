using NUnit.Framework;

namespace Qcow2Mount.Qcow2.Tests.Compression;

/// <summary>
/// Compressed clusters written by this engine must be what qemu-img check counts and qemu reads; writes that
/// replace compressed clusters (ours or qemu's) must free every host cluster reference the old range held.
/// </summary>
[TestFixture]
internal sealed class CompressedWriteTests
{
    private static readonly Qcow2OpenOptions Writable = new() { Writable = true };

    /// <summary>
    /// Cluster i holds text-like data, random bytes, zeros, or a random 6000-byte block repeated over the first half
    /// then zeros: back references longer than the 4 KiB window QEMU deflates with, which QEMU must still inflate.
    /// </summary>
    private static byte[] ClusterData(int i, int clusterSize)
    {
        var data = new byte[clusterSize];
        switch (i % 4)
        {
            case 0:
                for (int k = 0; k < clusterSize; k++)
                {
                    data[k] = (byte)"qcow2 compressed cluster "[(k + i) % 25];
                }

                data[0] = (byte)i;
                break;
            case 1:
                new Random(i).NextBytes(data);
                break;
            case 3:
                var block = new byte[6000];
                new Random(i).NextBytes(block);
                for (int k = 0; k < clusterSize / 2; k++)
                {
                    data[k] = block[k % block.Length];
                }

                break;
        }

        return data;
    }

    private static bool Compressible(int i) => i % 4 is 0 or 3;

    [TestCase("zlib", 512)]
    [TestCase("zlib", 4096)]
    [TestCase("zlib", 65536)]
    [TestCase("zlib", 2 << 20)]
    [TestCase("zstd", 512)]
    [TestCase("zstd", 4096)]
    [TestCase("zstd", 65536)]
    [TestCase("zstd", 2 << 20)]
    public void Compressed_writes_are_clean_read_back_and_overwrites_free_them(string type, int clusterSize)
    {
        using var dir = new TestSupport.TempDir("compress");
        string image = dir.Combine("img.qcow2");
        const int clusters = 21;
        long size = ((long)clusters * clusterSize) + 1024; // a short last cluster
        QemuTools.Ok(QemuTools.QemuImg, "create", "-q", "-f", "qcow2", "-o", $"cluster_size={clusterSize},compression_type={type}", image, size.ToString());
        var expected = new byte[size];
        int compressed = 0;
        using (var img = Qcow2Image.Open(image, Writable))
        {
            for (int i = 0; i <= clusters; i++)
            {
                long offset = (long)i * clusterSize;
                int length = (int)Math.Min(clusterSize, size - offset);
                var data = ClusterData(i == clusters ? 0 : i, clusterSize).AsSpan(0, length);
                if (data.IndexOfAnyExcept((byte)0) < 0)
                {
                    continue;
                }

                img.WriteCompressed(offset, data);
                data.CopyTo(expected.AsSpan((int)offset));
                compressed += i == clusters || Compressible(i) ? 1 : 0;
            }
        }

        var check = AssertClean(image);
        Assert.That(check.CompressedClusters, Is.EqualTo(compressed), "compressed clusters qemu-img check counts");
        AssertGuest(image, dir, expected);

        // Replace compressed clusters: partial writes, a whole overwrite, write-zeroes and discard (whole and partial).
        using (var img = Qcow2Image.Open(image, Writable))
        {
            Overwrite(img, expected, 0 * (long)clusterSize + 100, 300, 0xe1);
            Overwrite(img, expected, 3 * (long)clusterSize, clusterSize, 0xe2);
            Overwrite(img, expected, (4 * (long)clusterSize) - 10, 20, 0xe3);
            img.WriteZeroes(7 * (long)clusterSize, clusterSize);
            expected.AsSpan(7 * clusterSize, clusterSize).Clear();
            img.Discard(8 * (long)clusterSize, 2 * (long)clusterSize);
            expected.AsSpan(8 * clusterSize, 2 * clusterSize).Clear();
            img.WriteZeroes((11 * (long)clusterSize) + 7, 50);
            expected.AsSpan((11 * clusterSize) + 7, 50).Clear();
            Overwrite(img, expected, size - 1024, 1024, 0xe4);
        }

        var after = AssertClean(image);
        Assert.That(after.CompressedClusters, Is.LessThan(compressed));
        AssertGuest(image, dir, expected);
    }

    private static void Overwrite(Qcow2Image img, byte[] expected, long offset, int length, byte value)
    {
        var data = Enumerable.Repeat(value, length).ToArray();
        img.WriteAt(offset, data);
        data.CopyTo(expected.AsSpan((int)offset));
    }

    [TestCase("zlib", 4096)]
    [TestCase("zstd", 65536)]
    [TestCase("zlib", 512)]
    public void Overwriting_qemus_compressed_clusters_leaves_no_leaks(string type, int clusterSize)
    {
        using var dir = new TestSupport.TempDir("compress");
        string image = dir.Combine("qemu.qcow2");
        int cs = clusterSize;
        QemuTools.Ok(QemuTools.QemuImg, "create", "-q", "-f", "qcow2", "-o", $"cluster_size={cs},compression_type={type}", image, (32 * cs).ToString());
        var writes = Enumerable.Range(0, 24).Select(i => $"write -c -P 0x{0x20 + i:x2} {i * cs} {cs}").ToArray();
        QemuTools.QemuIoWrite(image, writes);
        Assert.That(AssertClean(image).CompressedClusters, Is.EqualTo(24), "qemu-io did not write compressed clusters");
        byte[] expected = QemuTools.ReadGuest(image, dir.Path);

        using (var img = Qcow2Image.Open(image, Writable))
        {
            Overwrite(img, expected, 1 * cs + 5, 7, 0xf1);
            Overwrite(img, expected, 2 * cs, cs, 0xf2);
            Overwrite(img, expected, (4 * cs) - 100, 200, 0xf3);
            img.WriteZeroes(6 * cs, 2 * cs);
            expected.AsSpan(6 * cs, 2 * cs).Clear();
            img.Discard(9 * cs, cs);
            expected.AsSpan(9 * cs, cs).Clear();
            img.Discard((11 * cs) + 512 - (cs == 512 ? 512 : 0), cs == 512 ? 512 : 1024);
            expected.AsSpan((11 * cs) + 512 - (cs == 512 ? 512 : 0), cs == 512 ? 512 : 1024).Clear();
            // New compressed data in the clusters just freed, packed next to qemu's.
            for (int i = 6; i < 8; i++)
            {
                var data = Enumerable.Repeat((byte)(0x90 + i), cs).ToArray();
                img.WriteCompressed((long)i * cs, data);
                data.CopyTo(expected.AsSpan(i * cs));
            }
        }

        var after = AssertClean(image);
        // Clusters 1, 2, 3, 4, 6, 7, 9 and 11 lost their compressed data; 6 and 7 got new compressed data.
        Assert.That(after.CompressedClusters, Is.EqualTo(24 - 8 + 2));
        AssertGuest(image, dir, expected);
    }

    [Test]
    public void Compressed_clusters_share_host_clusters()
    {
        using var dir = new TestSupport.TempDir("compress");
        string image = dir.Combine("img.qcow2");
        QemuTools.Ok(QemuTools.QemuImg, "create", "-q", "-f", "qcow2", image, "8M");
        long start;
        using (var img = Qcow2Image.Open(image, Writable))
        {
            img.WriteAt(0, new byte[] { 1 }); // the L2 table and refcount block exist before measuring
            img.Flush();
            start = img.FileLength;
            for (int i = 1; i < 64; i++)
            {
                img.WriteCompressed(i * 65536L, ClusterData(0, 65536).Select(b => (byte)(b ^ i)).ToArray());
            }
        }

        var check = AssertClean(image);
        Assert.That(check.CompressedClusters, Is.EqualTo(63));
        Assert.That(new FileInfo(image).Length - start, Is.LessThan(4 * 65536), "63 compressed clusters should fit in a few host clusters");
    }

    [Test]
    public void One_bit_refcounts_give_every_compressed_cluster_its_own_host_cluster()
    {
        using var dir = new TestSupport.TempDir("compress");
        string image = dir.Combine("img.qcow2");
        QemuTools.Ok(QemuTools.QemuImg, "create", "-q", "-f", "qcow2", "-o", "refcount_bits=1,cluster_size=4096", image, "1M");
        var expected = new byte[1 << 20];
        using (var img = Qcow2Image.Open(image, Writable))
        {
            for (int i = 0; i < 16; i++)
            {
                var data = ClusterData(0, 4096);
                data[1] = (byte)i;
                img.WriteCompressed(i * 4096L, data);
                data.CopyTo(expected.AsSpan(i * 4096));
            }
        }

        Assert.That(AssertClean(image).CompressedClusters, Is.EqualTo(16));
        AssertGuest(image, dir, expected);
    }

    [Test]
    public void Extended_l2_compressed_writes_over_zero_clusters_are_clean()
    {
        using var dir = new TestSupport.TempDir("compress");
        string image = dir.Combine("img.qcow2");
        QemuTools.Ok(QemuTools.QemuImg, "create", "-q", "-f", "qcow2", "-o", "extended_l2=on,cluster_size=32768", image, "1M");
        QemuTools.QemuIoWrite(image, "write -z 0 64k");
        var expected = new byte[1 << 20];
        using (var img = Qcow2Image.Open(image, Writable))
        {
            for (int i = 0; i < 4; i++)
            {
                var data = ClusterData(0, 32768);
                data[0] = (byte)(i + 1);
                img.WriteCompressed(i * 32768L, data);
                data.CopyTo(expected.AsSpan(i * 32768));
            }

            Overwrite(img, expected, 40000, 100, 0x42);
        }

        Assert.That(AssertClean(image).CompressedClusters, Is.EqualTo(3));
        AssertGuest(image, dir, expected);
    }

    [Test]
    public void Compressed_write_refuses_allocated_clusters_and_partial_ranges()
    {
        using var dir = new TestSupport.TempDir("compress");
        string image = dir.Combine("img.qcow2");
        QemuTools.Ok(QemuTools.QemuImg, "create", "-q", "-f", "qcow2", "-o", "cluster_size=4096", image, "1M");
        QemuTools.QemuIoWrite(image, "write -P 1 0 4k", "write -c -P 2 4k 4k", "write -z 8k 4k");
        var cluster = ClusterData(0, 4096);
        using (var img = Qcow2Image.Open(image, Writable))
        {
            foreach (long taken in new[] { 0L, 4096L })
            {
                var e = Assert.Throws<Qcow2Exception>(() => img.WriteCompressed(taken, cluster))!;
                Assert.That(e.Code, Is.EqualTo(Qcow2ErrorCode.InvalidArgument));
                Assert.That(e.Message, Does.Contain("already allocated"));
            }

            Assert.That(Assert.Throws<Qcow2Exception>(() => img.WriteCompressed(12288 + 512, cluster))!.Code, Is.EqualTo(Qcow2ErrorCode.InvalidArgument));
            Assert.That(Assert.Throws<Qcow2Exception>(() => img.WriteCompressed(12288, cluster.AsSpan(0, 2048)))!.Code, Is.EqualTo(Qcow2ErrorCode.InvalidArgument));
            img.WriteCompressed(8192, cluster); // a zero cluster may be compressed into
        }

        var check = AssertClean(image);
        Assert.That(check.CompressedClusters, Is.EqualTo(2));
        QemuTools.QemuIoWrite(image, "read -P 1 0 4k", "read -P 2 4k 4k");
    }

    private static QemuCheck AssertClean(string image)
    {
        var check = QemuTools.Check(image);
        Assert.That((check.ExitCode, check.Corruptions, check.Leaks, check.CheckErrors), Is.EqualTo((0, 0, 0, 0)), check.Stderr);
        return check;
    }

    private static void AssertGuest(string image, TestSupport.TempDir dir, byte[] expected) =>
        Resize.ResizeTests.AssertGuest(image, dir, expected);
}
