using NUnit.Framework;
using Qcow2Mount.Qcow2.Compression;
using Qcow2Mount.Qcow2.Create;
using Qcow2Mount.Qcow2.Format;

namespace Qcow2Mount.Qcow2.Tests.Writes;

/// <summary>
/// The bulk writes convert uses (<see cref="Qcow2Image.WriteNewClusters"/>,
/// <see cref="Qcow2Image.WriteCompressedClusters"/>), judged by qemu-img check and qemu-img's reading of the result.
/// </summary>
[TestFixture]
internal sealed class BulkWriteTests
{
    private static readonly Qcow2OpenOptions Writable = new() { Writable = true };

    /// <summary>Text-like, random or zero clusters, so runs of every kind and incompressible clusters occur.</summary>
    private static byte[] GuestData(long size, int seed)
    {
        var data = new byte[size];
        var random = new Random(seed);
        const int stretch = 3000;
        for (int i = 0; i < data.Length; i += stretch)
        {
            var part = data.AsSpan(i, Math.Min(stretch, data.Length - i));
            switch (random.Next(3))
            {
                case 0:
                    for (int k = 0; k < part.Length; k++)
                    {
                        part[k] = (byte)"bulk write text "[(k + i) % 16];
                    }

                    break;
                case 1:
                    random.NextBytes(part);
                    break;
            }
        }

        return data;
    }

    // 512-byte clusters with 16-bit refcounts: one refcount block counts 256 clusters, so a 1 MiB run crosses
    // several blocks' ranges (a whole-run contiguous allocation would be refused there).
    [TestCase(512, false, 16)]
    [TestCase(512, false, 1)]
    [TestCase(4096, false, 16)]
    [TestCase(65536, true, 16)]
    [TestCase(2 << 20, false, 64)]
    public void New_clusters_in_one_call_are_clean_and_read_back(int clusterSize, bool extendedL2, int refcountBits)
    {
        using var dir = new TestSupport.TempDir("bulk");
        string image = dir.Combine("bulk.qcow2");
        long size = (3 * Math.Max(clusterSize, 1L << 20)) + 1024; // the last cluster is short
        ImageCreator.Create(image, new CreateOptions { Size = size, ClusterSize = clusterSize, ExtendedL2 = extendedL2, RefcountBits = refcountBits });
        var expected = GuestData(size, clusterSize);
        int clusters = (int)((size + clusterSize - 1) / clusterSize);
        var source = new byte[(long)clusters * clusterSize];
        expected.CopyTo(source, 0);

        using (var img = Qcow2Image.Open(image, Writable))
        {
            // Everything but one cluster, in two calls; the second ends with the zero-padded last cluster.
            int hole = clusters / 2;
            img.WriteNewClusters(0, source.AsSpan(0, hole * clusterSize));
            img.WriteNewClusters((long)(hole + 1) * clusterSize, source.AsSpan((hole + 1) * clusterSize));
            expected.AsSpan(hole * clusterSize, clusterSize).Clear();
        }

        Assert.That(AssertClean(image).AllocatedClusters, Is.EqualTo(clusters - 1));
        Resize.ResizeTests.AssertGuest(image, dir, expected);
    }

    [TestCase("zlib", 512)]
    [TestCase("zlib", 65536)]
    [TestCase("zstd", 4096)]
    [TestCase("zstd", 2 << 20)]
    public void Compressed_clusters_in_one_call_are_clean_and_read_back(string type, int clusterSize)
    {
        using var dir = new TestSupport.TempDir("bulk");
        string image = dir.Combine("bulk.qcow2");
        const int clusters = 40;
        long size = ((long)clusters * clusterSize) - (clusterSize > 512 ? 512 : 0); // a short last cluster
        var compression = type == "zstd" ? CompressionType.Zstd : CompressionType.Deflate;
        ImageCreator.Create(image, new CreateOptions { Size = size, ClusterSize = clusterSize, CompressionType = compression });
        var expected = new byte[size];
        using (var img = Qcow2Image.Open(image, Writable))
        {
            var packed = new byte[clusters * clusterSize];
            var sizes = new List<int>();
            int used = 0;
            for (int i = 0; i < clusters; i++)
            {
                var cluster = new byte[clusterSize];
                for (int k = 0; k < clusterSize; k++)
                {
                    cluster[k] = (byte)"compressed in bulk, cluster "[(k + (i * 7)) % 28];
                }

                int n = img.CompressCluster(cluster, packed.AsSpan(used));
                Assert.That(n, Is.Positive);
                sizes.Add(n);
                used += n;
                cluster.AsSpan(0, (int)Math.Min(clusterSize, size - ((long)i * clusterSize))).CopyTo(expected.AsSpan(i * clusterSize));
            }

            img.WriteCompressedClusters(0, packed.AsSpan(0, used), sizes.ToArray());
        }

        var check = AssertClean(image);
        Assert.That(check.CompressedClusters, Is.EqualTo(clusters));
        Resize.ResizeTests.AssertGuest(image, dir, expected);
    }

    [Test]
    public void Allocated_clusters_are_refused_and_nothing_changes()
    {
        using var dir = new TestSupport.TempDir("bulk");
        string image = dir.Combine("bulk.qcow2");
        ImageCreator.Create(image, new CreateOptions { Size = 1 << 20, ClusterSize = 4096 });
        using (var img = Qcow2Image.Open(image, Writable))
        {
            img.WriteAt(8192, new byte[] { 1 });
            var e = Assert.Throws<Qcow2Exception>(() => img.WriteNewClusters(0, new byte[4 * 4096]));
            Assert.That(e!.Code, Is.EqualTo(Qcow2ErrorCode.InvalidArgument));
            e = Assert.Throws<Qcow2Exception>(() => img.WriteCompressedClusters(8192, new byte[10], [10]));
            Assert.That(e!.Code, Is.EqualTo(Qcow2ErrorCode.InvalidArgument));
            Assert.Throws<Qcow2Exception>(() => img.WriteNewClusters(100, new byte[4096]), "unaligned");
            Assert.Throws<Qcow2Exception>(() => img.WriteNewClusters(0, new byte[4000]), "not whole clusters");
            Assert.Throws<Qcow2Exception>(() => img.WriteNewClusters(1 << 20, new byte[4096]), "past the end");
            Assert.Throws<Qcow2Exception>(() => img.WriteCompressedClusters(0, new byte[10], [9]), "sizes do not add up");
        }

        AssertClean(image);
    }

    [Test]
    public void Managed_zstd_fallback_writes_frames_qemu_reads()
    {
        using var dir = new TestSupport.TempDir("bulk");
        string image = dir.Combine("managed.qcow2");
        const int clusterSize = 65536;
        ImageCreator.Create(image, new CreateOptions { Size = 8 * clusterSize, CompressionType = CompressionType.Zstd });
        var expected = GuestData(8 * clusterSize, 3);
        ClusterCompressor.PreferNative = false;
        try
        {
            using var img = Qcow2Image.Open(image, Writable);
            var packed = new byte[8 * clusterSize];
            var sizes = new List<int>();
            int used = 0;
            for (int i = 0; i < 8; i++)
            {
                var cluster = expected.AsSpan(i * clusterSize, clusterSize);
                int n = img.CompressCluster(cluster, packed.AsSpan(used));
                if (n < 0)
                {
                    // Incompressible: stored as data, exactly as convert does.
                    img.WriteNewClusters((long)i * clusterSize, cluster);
                    continue;
                }

                img.WriteCompressedClusters((long)i * clusterSize, packed.AsSpan(used, n), [n]);
                used += n;
            }
        }
        finally
        {
            ClusterCompressor.PreferNative = true;
        }

        Assert.That(AssertClean(image).CompressedClusters, Is.Positive);
        Resize.ResizeTests.AssertGuest(image, dir, expected);
    }

    [Test]
    public void Without_flushes_a_clean_close_still_leaves_a_clean_image()
    {
        using var dir = new TestSupport.TempDir("bulk");
        string image = dir.Combine("unsafe.qcow2");
        ImageCreator.Create(image, new CreateOptions { Size = 4 << 20 });
        var expected = GuestData(4 << 20, 5);
        using (var img = Qcow2Image.Open(image, Writable with { FlushToDisk = false }))
        {
            img.WriteNewClusters(0, expected);
            img.Flush();
        }

        AssertClean(image);
        Resize.ResizeTests.AssertGuest(image, dir, expected);
    }

    private static QemuCheck AssertClean(string image)
    {
        var check = QemuTools.Check(image);
        Assert.That((check.ExitCode, check.Corruptions, check.Leaks, check.CheckErrors), Is.EqualTo((0, 0, 0, 0)), check.Stderr);
        return check;
    }
}
