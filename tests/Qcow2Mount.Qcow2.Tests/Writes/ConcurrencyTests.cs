using NUnit.Framework;
using Qcow2Mount.TestSupport;
using Qcow2Mount.Qcow2.Create;

namespace Qcow2Mount.Qcow2.Tests.Writes;

/// <summary>
/// Many threads at once, as the FUSE adapter calls the engine: writers racing for the same unallocated clusters
/// must not both allocate them (every write survives, nothing leaks), and readers that load and evict L2 tables
/// without the metadata lock must not make a writer's change vanish.
/// </summary>
[TestFixture]
internal sealed class ConcurrencyTests
{
    [TestCase(true)]
    [TestCase(false)]
    public void Writers_sharing_clusters_and_busy_readers_lose_nothing(bool lazy)
    {
        using var dir = new TempDir("concurrency");
        string image = dir.Combine("c.qcow2");
        const int cluster = 4096, clusters = 2048, writers = 4, sector = cluster / writers;
        ImageCreator.Create(image, new CreateOptions { Size = (long)cluster * clusters, ClusterSize = cluster });
        var expected = new byte[(long)cluster * clusters];

        // A tiny L2 cache (16 tables of 512 entries) so readers evict constantly while writers change tables.
        using (var disk = Qcow2Image.Open(image, new Qcow2OpenOptions { Writable = true, LazyRefcounts = lazy, L2CacheBytes = 1 }))
        {
            using var stop = new CancellationTokenSource();
            var readers = Enumerable.Range(0, 2).Select(r => Task.Run(() =>
            {
                var random = new Random(r);
                var buffer = new byte[64 * 1024];
                while (!stop.IsCancellationRequested)
                {
                    disk.ReadAt(random.NextInt64(expected.Length - buffer.Length), buffer);
                }
            })).ToArray();

            // Writer w owns sector w of every cluster; all of them hit each cluster while it is still unallocated.
            var tasks = Enumerable.Range(0, writers).Select(w => Task.Run(() =>
            {
                var random = new Random(100 + w);
                foreach (int c in Enumerable.Range(0, clusters).OrderBy(_ => random.Next()).ToArray())
                {
                    var data = new byte[sector];
                    random.NextBytes(data);
                    long offset = ((long)c * cluster) + (w * sector);
                    disk.WriteAt(offset, data);
                    data.CopyTo(expected, offset);
                    if (random.Next(200) == 0)
                    {
                        disk.Flush();
                    }
                }
            })).ToArray();
            Task.WaitAll(tasks);
            stop.Cancel();
            Task.WaitAll(readers);

            var actual = new byte[expected.Length];
            disk.ReadAt(0, actual);
            Assert.That(actual.AsSpan().SequenceEqual(expected), Is.True, "every sector written by every thread reads back");
        }

        using (var reopened = Qcow2Image.Open(image))
        {
            var actual = new byte[expected.Length];
            reopened.ReadAt(0, actual);
            Assert.That(actual.AsSpan().SequenceEqual(expected), Is.True, "and after a clean close");
        }

        var check = QemuTools.Check(image);
        Assert.That((check.ExitCode, check.Corruptions, check.Leaks), Is.EqualTo((0, 0, 0)), check.Stderr);
        Assert.That(check.AllocatedClusters, Is.LessThan(clusters + 64), "each guest cluster was allocated once");
    }
}
