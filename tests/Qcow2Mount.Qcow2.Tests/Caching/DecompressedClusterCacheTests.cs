using NUnit.Framework;
using Qcow2Mount.Qcow2.Caching;

namespace Qcow2Mount.Qcow2.Tests.Caching;

[TestFixture]
internal class DecompressedClusterCacheTests
{
    private const int Cluster = 4096;

    /// <summary>A cluster whose every byte says which key it belongs to, so a mixed-up slot cannot go unnoticed.</summary>
    private static byte[] ClusterOf(long key)
    {
        var data = new byte[Cluster];
        for (int i = 0; i < data.Length; i++)
        {
            data[i] = (byte)(key * 31 + i / 7);
        }

        return data;
    }

    [Test]
    public void Stores_and_reads_back_any_range_of_a_cluster()
    {
        using var cache = new DecompressedClusterCache(16 * Cluster, Cluster);
        cache.Store(0x10000, ClusterOf(5));
        var part = new byte[100];
        Assert.That(cache.TryRead(0x10000, 1000, part), Is.True);
        Assert.That(part, Is.EqualTo(ClusterOf(5).AsSpan(1000, 100).ToArray()));
        Assert.That(cache.TryRead(0x20000, 0, part), Is.False, "a key never stored misses");
    }

    [Test]
    public void A_prefix_serves_only_reads_inside_it_and_a_longer_store_replaces_it()
    {
        using var cache = new DecompressedClusterCache(16 * Cluster, Cluster);
        var full = ClusterOf(9);
        cache.Store(7, full.AsSpan(0, 1024));
        var part = new byte[512];
        Assert.Multiple(() =>
        {
            Assert.That(cache.CachedLength(7), Is.EqualTo(1024));
            Assert.That(cache.TryRead(7, 512, part), Is.True, "ends exactly at the prefix");
            Assert.That(cache.TryRead(7, 513, part), Is.False, "runs past the prefix");
        });

        cache.Store(7, full.AsSpan(0, 512));
        Assert.That(cache.CachedLength(7), Is.EqualTo(1024), "a shorter prefix never replaces a longer one");
        cache.Store(7, full);
        Assert.That(cache.TryRead(7, Cluster - 512, part), Is.True);
        Assert.That(part, Is.EqualTo(full.AsSpan(Cluster - 512).ToArray()));
    }

    [Test]
    public void Holds_at_most_its_capacity_and_keeps_recently_read_clusters()
    {
        using var cache = new DecompressedClusterCache(8 * Cluster, Cluster);
        for (long k = 0; k < 8; k++)
        {
            cache.Store(k, ClusterOf(k));
        }

        // One CLOCK sweep clears every reference bit; then only key 3 is read again before the next stores.
        cache.Store(100, ClusterOf(100));
        Assert.That(cache.TryRead(3, 0, new byte[1]), Is.True);
        for (long k = 101; k < 106; k++)
        {
            cache.Store(k, ClusterOf(k));
        }

        int held = Enumerable.Range(0, 8).Count(k => cache.CachedLength(k) > 0)
            + Enumerable.Range(100, 6).Count(k => cache.CachedLength(k) > 0);
        Assert.Multiple(() =>
        {
            Assert.That(cache.Capacity, Is.EqualTo(8));
            Assert.That(held, Is.EqualTo(8), "full, never over");
            Assert.That(cache.CachedLength(3), Is.EqualTo(Cluster), "the cluster read since the last sweep survives");
        });
    }

    [Test]
    public void Remove_and_clear_drop_clusters()
    {
        using var cache = new DecompressedClusterCache(1 << 20, Cluster);
        for (long k = 0; k < 100; k++)
        {
            cache.Store(k * Cluster, ClusterOf(k));
        }

        cache.Remove(5 * Cluster);
        Assert.That(cache.TryRead(5 * Cluster, 0, new byte[1]), Is.False);
        Assert.That(cache.TryRead(6 * Cluster, 0, new byte[1]), Is.True);
        cache.Clear();
        Assert.That(Enumerable.Range(0, 100).All(k => cache.CachedLength(k * Cluster) == 0), Is.True);
    }

    [Test]
    public void A_capacity_below_one_cluster_caches_nothing()
    {
        using var cache = new DecompressedClusterCache(Cluster - 1, Cluster);
        cache.Store(1, ClusterOf(1));
        Assert.That((cache.Capacity, cache.TryRead(1, 0, new byte[1])), Is.EqualTo((0, false)));
    }

    [Test]
    public void Concurrent_stores_and_reads_never_return_another_clusters_bytes()
    {
        // 4 threads over 400 keys with room for 64 (several shards): constant eviction and slot reuse.
        using var cache = new DecompressedClusterCache(64 * Cluster, Cluster);
        var expected = Enumerable.Range(0, 400).Select(k => ClusterOf(k)).ToArray();
        int hits = 0;
        var workers = Enumerable.Range(0, 4).Select(seed => Task.Run(() =>
        {
            var random = new Random(seed);
            var part = new byte[512];
            for (int i = 0; i < 50_000; i++)
            {
                int key = random.Next(400);
                int offset = random.Next(Cluster - part.Length);
                if (cache.TryRead(key, offset, part))
                {
                    Interlocked.Increment(ref hits);
                    if (!part.AsSpan().SequenceEqual(expected[key].AsSpan(offset, part.Length)))
                    {
                        throw new AssertionException($"key {key} at {offset} read another cluster's bytes");
                    }
                }
                else
                {
                    cache.Store(key, expected[key].AsSpan(0, random.Next(2) == 0 ? Cluster : 2048));
                }
            }
        })).ToArray();
        Assert.That(() => Task.WaitAll(workers), Throws.Nothing);
        Assert.That(hits, Is.GreaterThan(0));
    }
}
