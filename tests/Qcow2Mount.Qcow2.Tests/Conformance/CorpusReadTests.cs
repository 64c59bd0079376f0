using Microsoft.Win32.SafeHandles;
using NUnit.Framework;
using Qcow2Mount.TestSupport;

namespace Qcow2Mount.Qcow2.Tests.Conformance;

/// <summary>
/// Every view of the qemu-made corpus must read exactly as <c>qemu-img convert</c> read it: whole, in odd pieces,
/// at random offsets, with caches too small to hold anything, and from several threads at once.
/// </summary>
[TestFixture]
[Parallelizable(ParallelScope.All)]
internal class CorpusReadTests
{
    private static Qcow2Image OpenView(CorpusEntry e, Qcow2OpenOptions? options = null) =>
        Qcow2Image.Open(e.ImagePath, (options ?? new Qcow2OpenOptions()) with { Snapshot = e.Snapshot });

    [TestCaseSource(typeof(Corpus), nameof(Corpus.Entries))]
    public void Reads_what_qemu_reads(CorpusEntry e)
    {
        using var image = OpenView(e);
        Assert.That(image.Length, Is.EqualTo(ExpectedView.Length(e)), "virtual size");
        FileCompare.AssertSame(ExpectedView.AsQemuReadsIt(e, image.ReadAt, image.Length), e.VirtualSize, e.ExpectedRawPath, e.ViewName);
    }

    /// <summary>
    /// 4097-byte reads: every piece starts at a different odd offset, so pieces straddle subcluster, cluster and
    /// L2-table boundaries and end in the middle of extents of every kind.
    /// </summary>
    [TestCaseSource(typeof(Corpus), nameof(Corpus.Entries))]
    public void Reads_the_same_in_odd_sized_pieces(CorpusEntry e)
    {
        using var image = OpenView(e);
        FileCompare.AssertSame(ExpectedView.AsQemuReadsIt(e, Pieces(image, 4097), image.Length), e.VirtualSize, e.ExpectedRawPath, e.ViewName + " in 4097-byte pieces");
    }

    /// <summary>One L2 table and one decompressed cluster of cache: every lookup may evict.</summary>
    [TestCaseSource(typeof(Corpus), nameof(Corpus.Entries))]
    public void Reads_the_same_with_tiny_caches(CorpusEntry e)
    {
        using var probe = OpenView(e);
        var tiny = new Qcow2OpenOptions { L2CacheBytes = probe.ClusterSize, DecompressedCacheBytes = probe.ClusterSize };
        using var image = OpenView(e, tiny);
        FileCompare.AssertSame(ExpectedView.AsQemuReadsIt(e, Pieces(image, 3 * 1024 + 1), image.Length), e.VirtualSize, e.ExpectedRawPath, e.ViewName + " with tiny caches");
    }

    [TestCaseSource(typeof(Corpus), nameof(Corpus.Entries))]
    public void Reads_the_same_at_random_and_boundary_offsets(CorpusEntry e)
    {
        using var image = OpenView(e);
        using var expected = File.OpenHandle(e.ExpectedRawPath);
        var random = new Random(e.ViewName.Length * 7919 + e.ViewName[0]);
        var ranges = new List<(long Offset, int Length)>();
        for (int i = 0; i < 200; i++)
        {
            ranges.Add((random.NextInt64(image.Length), random.Next(1, 256 * 1024)));
        }

        // Straddle the first cluster and L2-table boundaries, and the very end of the disk.
        long l2Span = (long)image.ClusterSize * (image.ClusterSize / (image.Header.HasExtendedL2 ? 16 : 8));
        foreach (long boundary in new[] { image.ClusterSize, 2L * image.ClusterSize, 3L * image.ClusterSize, l2Span, 2 * l2Span, image.Length })
        {
            if (boundary <= image.Length)
            {
                ranges.Add((Math.Max(0, boundary - 2049), 4097));
            }
        }

        foreach (var (offset, length) in ranges)
        {
            AssertRange(image, expected, offset, length, e.ViewName);
        }
    }

    [TestCaseSource(typeof(Corpus), nameof(Corpus.Entries))]
    public void Reads_the_same_from_four_threads_at_once(CorpusEntry e)
    {
        using var probe = OpenView(e);
        using var image = OpenView(e, new Qcow2OpenOptions { L2CacheBytes = 2L * probe.ClusterSize, DecompressedCacheBytes = probe.ClusterSize });
        var failures = new System.Collections.Concurrent.ConcurrentQueue<string>();
        var threads = Enumerable.Range(0, 4).Select(t => new Thread(() =>
        {
            try
            {
                using var expected = File.OpenHandle(e.ExpectedRawPath);
                var random = new Random(t + 1);
                for (int i = 0; i < 150; i++)
                {
                    AssertRange(image, expected, random.NextInt64(image.Length), random.Next(1, 160 * 1024), $"{e.ViewName} thread {t}");
                }
            }
#pragma warning disable CA1031 // A reader thread's failures, assertions included, go to the queue the test asserts on; one left unhandled on a thread would end the process.
            catch (Exception ex)
            {
                failures.Enqueue(ex.Message);
            }
#pragma warning restore CA1031
        })).ToList();
        threads.ForEach(t => t.Start());
        threads.ForEach(t => t.Join());
        Assert.That(failures, Is.Empty);
    }

    /// <summary>
    /// The zero-copy path: where a read-only view maps a range to host segments, reading those segments (zeros
    /// for zero segments) gives exactly what qemu-img reads. Views without compressed data must map most ranges,
    /// so the test cannot pass by always declining.
    /// </summary>
    [TestCaseSource(typeof(Corpus), nameof(Corpus.Entries))]
    public void Host_segments_read_what_qemu_reads(CorpusEntry e)
    {
        using var image = OpenView(e);
        using var expected = File.OpenHandle(e.ExpectedRawPath);
        var random = new Random(e.ViewName.GetHashCode(StringComparison.Ordinal));
        var segments = new HostSegment[32];
        int tried = 0, mapped = 0;
        for (int i = 0; i < 300; i++)
        {
            int length = (int)Math.Min(random.Next(1, 3) == 1 ? 4096 : random.Next(1, 512 * 1024), image.Length);
            long offset = random.NextInt64(image.Length - length + 1);
            tried++;
            if (!image.TryMapRead(offset, length, segments, out int count))
            {
                continue;
            }

            mapped++;
            var actual = new byte[length];
            int at = 0;
            foreach (var segment in segments.AsSpan(0, count))
            {
                if (!segment.IsZero)
                {
                    Assert.That(RandomAccess.Read(segment.File!, actual.AsSpan(at, segment.Length), segment.Position), Is.EqualTo(segment.Length),
                        $"{e.ViewName}: segment at host 0x{segment.Position:x} (+{segment.Length}) lies inside its file");
                }

                at += segment.Length;
            }

            Assert.That(at, Is.EqualTo(length), $"{e.ViewName}: segments of 0x{offset:x} (+{length}) add up");
            var want = new byte[length];
            RandomAccess.Read(expected, want, offset);
            int same = actual.AsSpan().CommonPrefixLength(want);
            Assert.That(same, Is.EqualTo(length), $"{e.ViewName}: mapped read at 0x{offset:x} (+{length}) differs at 0x{offset + same:x}");
        }

        bool compressed = e.Name.StartsWith("comp", StringComparison.Ordinal) || e.Name.Contains("zstd", StringComparison.Ordinal);
        if (!compressed)
        {
            Assert.That(mapped, Is.GreaterThan(tried / 2), $"{e.ViewName}: only {mapped} of {tried} ranges mapped");
        }
    }

    [Test]
    public void Writable_images_never_map()
    {
        var e = Corpus.Get("v3-c64k");
        using var dir = new TempDir("map");
        string copy = Path.Combine(dir.Path, "w.qcow2");
        File.Copy(e.ImagePath, copy);
        using var image = Qcow2Image.Open(copy, new Qcow2OpenOptions { Writable = true });
        Assert.That(image.TryMapRead(0, 4096, new HostSegment[4], out _), Is.False);
    }

    /// <summary>A ReadAt that serves each request in pieces of <paramref name="piece"/> bytes.</summary>
    private static ReadAtCallback Pieces(Qcow2Image disk, int piece) => (offset, buffer) =>
    {
        int done = 0;
        while (done < buffer.Length)
        {
            int n = disk.ReadAt(offset + done, buffer.Slice(done, Math.Min(piece, buffer.Length - done)));
            if (n <= 0)
            {
                break;
            }

            done += n;
        }

        return done;
    };

    private static void AssertRange(Qcow2Image disk, SafeFileHandle expectedFile, long offset, int length, string context)
    {
        var actual = new byte[length];
        var expected = new byte[length];
        int n = disk.ReadAt(offset, actual);
        int want = (int)Math.Clamp(disk.Length - offset, 0, length);
        if (n != want)
        {
            throw new AssertionException($"{context}: read at 0x{offset:x} (+{length}) returned {n}, expected {want}");
        }

        int e = 0;
        while (e < want)
        {
            int r = RandomAccess.Read(expectedFile, expected.AsSpan(e, want - e), offset + e);
            if (r == 0)
            {
                break;
            }

            e += r;
        }

        int mismatch = actual.AsSpan(0, n).CommonPrefixLength(expected.AsSpan(0, want));
        if (mismatch < want)
        {
            throw new AssertionException(
                $"{context}: read at 0x{offset:x} (+{length}) differs at 0x{offset + mismatch:x}: expected {expected[mismatch]:x2}, got {actual[mismatch]:x2}");
        }
    }
}
