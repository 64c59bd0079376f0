using NUnit.Framework;
using Qcow2Mount.TestSupport;
using Qcow2Mount.Qcow2.Create;

namespace Qcow2Mount.Qcow2.Tests.Writes;

/// <summary>
/// A writer that never calls fsync (dd of a whole disk, a VM with cache=unsafe) must not grow the engine's memory
/// without end: dirty L2 tables and refcount blocks are written back once they fill their cache, also with lazy
/// refcounts, and decrements waiting for a flush are bounded. Once written back, a full cache must not make every
/// later write flush again.
/// </summary>
[TestFixture]
public class CacheBoundTests
{
    private const int Cluster = 512;

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

        var check = QemuTools.Check(path);
        Assert.That((check.ExitCode, check.Corruptions, check.Leaks, check.CheckErrors), Is.EqualTo((0, 0, 0, 0)), check.Stderr);
        using var reopened = Qcow2Image.Open(path);
        var actual = new byte[expected.Length];
        reopened.ReadAt(0, actual);
        Assert.That(actual.AsSpan().SequenceEqual(expected), Is.True, "the data reads back");
    }
}
