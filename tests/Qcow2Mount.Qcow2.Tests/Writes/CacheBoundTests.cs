using NUnit.Framework;
using Qcow2Mount.TestSupport;
using Qcow2Mount.Qcow2.Create;
using Qcow2Mount.Qcow2.Refcounts;
using Qcow2Mount.Qcow2.Storage;

namespace Qcow2Mount.Qcow2.Tests.Writes;

/// <summary>
/// A writer that never calls fsync (dd of a whole disk, a VM with cache=unsafe) must not grow the engine's memory
/// without end: dirty L2 tables and refcount blocks are written back once they fill their cache, also with lazy
/// refcounts, and decrements waiting for a flush are bounded. Once written back, a full cache must not make every
/// later write flush again.
/// </summary>
[TestFixture]
internal class CacheBoundTests
{
    private const int Cluster = 512;

    [TestCase(true)]
    [TestCase(false)]
    public void Dirty_metadata_never_holds_the_caches_above_their_size(bool lazy)
    {
        using var dir = new TempDir("cachebound");
        string path = dir.Combine("b.qcow2");
        ImageCreator.Create(path, new CreateOptions { Size = 32L << 20, ClusterSize = Cluster });
        var expected = new byte[16 << 20];
        new Random(5).NextBytes(expected);

        // 512-byte clusters: a refcount block covers 128 KiB of the host file and an L2 table 32 KiB of the
        // guest, so 16 MiB of writes dirty about 130 blocks and 512 tables against caches of 16 each.
        var options = new Qcow2OpenOptions { Writable = true, LazyRefcounts = lazy, L2CacheBytes = 1, RefcountCacheBytes = 1 };
        using (var image = Qcow2Image.Open(path, options))
        {
            Assert.That(image.UsesLazyRefcounts, Is.EqualTo(lazy));
            for (int offset = 0; offset < expected.Length; offset += 64 << 10)
            {
                image.WriteAt(offset, expected.AsSpan(offset, 64 << 10));
                var usage = image.CacheUsage;
                Assert.That(usage.L2Tables, Is.LessThanOrEqualTo(usage.L2Capacity), $"L2 tables cached after {offset + (64 << 10)} bytes");
                Assert.That(usage.RefcountBlocks, Is.LessThanOrEqualTo(usage.RefcountCapacity), $"refcount blocks cached after {offset + (64 << 10)} bytes");
            }
        }

        AssertCleanAndReadsBack(path, expected);
    }

    [Test]
    public void A_cache_written_back_when_full_does_not_flush_again_on_every_write()
    {
        using var dir = new TempDir("cachebound");
        string path = dir.Combine("f.qcow2");
        ImageCreator.Create(path, new CreateOptions { Size = 4L << 20, ClusterSize = Cluster });
#pragma warning disable CA2000 // Wrong: the image opened below gets the file through HostFileOpener and disposes it.
        var file = new FaultInjectingFile(path, File.ReadAllBytes(path));
#pragma warning restore CA2000
        var options = new Qcow2OpenOptions
        {
            Writable = true,
            L2CacheBytes = 1,
            HostFileOpener = (opened, writable) => opened == path ? file : HostFile.Open(opened, writable),
        };
        const int TableSpan = Cluster / 8 * Cluster;
        var sector = new byte[Cluster];
        using var image = Qcow2Image.Open(path, options);
        int capacity = image.CacheUsage.L2Capacity;

        // One new cluster under each of capacity + 1 tables: every table is dirty, so the last one overfills
        // the cache and the image writes the tables back.
        for (int t = 0; t <= capacity; t++)
        {
            image.WriteAt((long)t * TableSpan, sector);
        }

        int flushes = file.FlushCount;
        Assert.That(flushes, Is.Positive, "the overfull cache was written back");

        // More new clusters under the last table, which is cached: no new table, nothing to write back.
        for (int c = 1; c < TableSpan / Cluster; c++)
        {
            image.WriteAt(((long)capacity * TableSpan) + (c * Cluster), sector);
        }

        Assert.That(file.FlushCount - flushes, Is.Zero, "flushes after the write-back");
    }

    [Test]
    public void Discarding_and_rewriting_without_fsync_reuses_space()
    {
        using var dir = new TempDir("cachebound");
        string path = dir.Combine("d.qcow2");
        ImageCreator.Create(path, new CreateOptions { Size = 1L << 20, ClusterSize = Cluster });
        var sector = new byte[Cluster];
        sector.AsSpan().Fill(0x5a);
        const int Rounds = (2 * RefcountManager.MaxDeferred) + 1000;
        using (var image = Qcow2Image.Open(path, new Qcow2OpenOptions { Writable = true }))
        {
            // Each write takes a new cluster: the discarded one is freed only once its L2 entry is durable.
            for (int i = 0; i < Rounds; i++)
            {
                image.WriteAt(0, sector);
                image.Discard(0, Cluster);
            }
        }

        long length = new FileInfo(path).Length;
        Assert.That(length, Is.LessThan(3L * RefcountManager.MaxDeferred * Cluster / 2),
            $"{Rounds} rewrites of one cluster grew the image to {length} bytes");
        var check = QemuTools.Check(path);
        Assert.That((check.ExitCode, check.Corruptions, check.Leaks, check.CheckErrors), Is.EqualTo((0, 0, 0, 0)), check.Stderr);
    }

    /// <summary>
    /// With lazy refcounts the header keeps pointing at the first refcount table until close, so a table that grew
    /// twice left an intermediate one nothing points at. It is freed at the next fsync and may take data then; the
    /// overlap guard once still listed it as the refcount table and marked the image corrupt.
    /// </summary>
    [Test]
    public void A_refcount_table_that_grows_twice_between_header_writes_frees_the_one_in_between()
    {
        using var dir = new TempDir("cachebound");
        string path = dir.Combine("g.qcow2");
        ImageCreator.Create(path, new CreateOptions { Size = 32L << 20, ClusterSize = Cluster });
        var expected = new byte[24 << 20];
        new Random(9).NextBytes(expected);

        // One table cluster of 512-byte clusters covers 8 MiB of the host file: 24 MiB of data grows it twice.
        using (var image = Qcow2Image.Open(path, new Qcow2OpenOptions { Writable = true, LazyRefcounts = true }))
        {
            for (int offset = 0; offset < expected.Length; offset += 64 << 10)
            {
                image.WriteAt(offset, expected.AsSpan(offset, 64 << 10));
                if (offset % (1 << 20) == 0)
                {
                    image.Flush();
                }
            }
        }

        AssertCleanAndReadsBack(path, expected);
    }

    /// <summary>qemu-img check finds nothing, and the guest reads <paramref name="expected"/> from offset 0.</summary>
    private static void AssertCleanAndReadsBack(string path, byte[] expected)
    {
        var check = QemuTools.Check(path);
        Assert.That((check.ExitCode, check.Corruptions, check.Leaks, check.CheckErrors), Is.EqualTo((0, 0, 0, 0)), check.Stderr);
        using var reopened = Qcow2Image.Open(path);
        var actual = new byte[expected.Length];
        reopened.ReadAt(0, actual);
        Assert.That(actual.AsSpan().SequenceEqual(expected), Is.True, "the data reads back");
    }
}
