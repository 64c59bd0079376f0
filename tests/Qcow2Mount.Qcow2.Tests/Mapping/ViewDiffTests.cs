using System.Collections.Concurrent;
using NUnit.Framework;
using Qcow2Mount.Qcow2.Mapping;
using Qcow2Mount.TestSupport;

namespace Qcow2Mount.Qcow2.Tests.Mapping;

/// <summary>
/// <see cref="ViewDiff"/>: the ranges must be exactly the sectors where QEMU's exports of the two views differ, and
/// the host reads must never touch a data cluster the two views share.
/// </summary>
[TestFixture]
[Parallelizable(ParallelScope.All)]
internal class ViewDiffTests
{
    private const int Cluster = 65536;

    /// <summary>
    /// 32 MiB, 160 clusters of data, snapshot s1; then a write into 3 clusters (one rewrites the bytes it had), a
    /// zeroed cluster, a discarded one, and a new one; snapshot s2.
    /// </summary>
    private static string MakeImage(TempDir dir)
    {
        string image = dir.Combine("evidence.qcow2");
        QemuTools.Ok(QemuTools.QemuImg, "create", "-q", "-f", "qcow2", image, "32M");
        QemuTools.Ok(QemuTools.QemuIo, "-c", "write -P 0x11 0 10M", image);
        QemuTools.Ok(QemuTools.QemuImg, "snapshot", "-c", "s1", image);
        QemuTools.Ok(QemuTools.QemuIo,
            "-c", "write -P 0x22 1M 4k",          // part of one cluster
            "-c", "write -P 0x11 2M 64k",         // same bytes as before, but a new cluster: a candidate that is not a difference
            "-c", "write -P 0x33 3000k 100k",     // across two clusters
            "-c", "write -z 5M 64k",              // zeroed
            "-c", "discard 6M 64k",               // discarded
            "-c", "write -P 0x44 20M 4k",         // where nothing was
            image);
        QemuTools.Ok(QemuTools.QemuImg, "snapshot", "-c", "s2", image);
        return image;
    }

    /// <summary>Differing 512-byte sectors between QEMU's raw exports of two views, merged.</summary>
    private static List<DiffRange> QemuDiff(TempDir dir, string image, string? fromSnapshot, string? toSnapshot)
    {
        byte[] Export(string? snapshot)
        {
            string raw = dir.Combine($"{snapshot ?? "active"}-{Guid.NewGuid():N}.raw");
            QemuTools.Ok(QemuTools.QemuImg, snapshot is null ? ["convert", "-O", "raw", image, raw] : ["convert", "-l", $"snapshot.name={snapshot}", "-O", "raw", image, raw]);
            return File.ReadAllBytes(raw);
        }

        byte[] a = Export(fromSnapshot);
        byte[] b = Export(toSnapshot);
        var ranges = new List<DiffRange>();
        for (int at = 0; at < Math.Min(a.Length, b.Length); at += 512)
        {
            if (!a.AsSpan(at, 512).SequenceEqual(b.AsSpan(at, 512)))
            {
                if (ranges.Count > 0 && ranges[^1].End == at)
                {
                    ranges[^1] = ranges[^1] with { Length = ranges[^1].Length + 512 };
                }
                else
                {
                    ranges.Add(new DiffRange(at, 512));
                }
            }
        }

        return ranges;
    }

    [TestCase("s1", "active")]
    [TestCase("s1", "s2")]
    [TestCase("s2", "active")]
    public void Finds_exactly_the_sectors_qemu_sees_differ(string from, string to)
    {
        using var dir = new TempDir("diff");
        string image = MakeImage(dir);
        if (to == "active")
        {
            QemuTools.Ok(QemuTools.QemuIo, "-c", "write -P 0x55 30M 512", image); // after s2: only the active layer has it
        }

        var result = ViewDiff.Run(image, DiffView.Parse(from), DiffView.Parse(to));
        var expected = QemuDiff(dir, image, from, to == "active" ? null : to);

        Assert.That(result.Ranges, Is.EqualTo(expected));
        Assert.That(result.SizeChanged, Is.False);
    }

    [Test]
    public void Unchanged_data_clusters_are_never_read()
    {
        using var dir = new TempDir("diff-reads");
        string image = MakeImage(dir);
        var files = new ConcurrentBag<CountingHostFile>();
        var options = CountingHostFile.Counting(files);

        var result = ViewDiff.Run(image, DiffView.Snapshot("s1"), DiffView.Active, options);

        // Host clusters holding data that both views map alike: the diff must not read any of them.
        using var active = Qcow2Image.Open(image, new Qcow2OpenOptions());
        var shared = new HashSet<long>();
        foreach (var run in DiskMap.Map(active).Where(r => r is { Data: true, Offset: not null }))
        {
            for (long guest = run.Start; guest < run.End; guest += Cluster)
            {
                if (!result.Ranges.Any(r => r.Start < guest + Cluster && guest < r.End) && !(guest >= 2 << 20 && guest < (2 << 20) + Cluster))
                {
                    shared.Add((run.Offset!.Value + (guest - run.Start)) / Cluster);
                }
            }
        }

        var reads = files.SelectMany(f => f.Reads).ToList();
        var readClusters = reads.SelectMany(r => Enumerable.Range(0, (int)((r.Length + Cluster - 1) / Cluster)).Select(i => (r.Offset / Cluster) + i)).ToHashSet();
        long readBytes = reads.Sum(r => (long)r.Length);

        Assert.Multiple(() =>
        {
            Assert.That(shared, Has.Count.GreaterThan(150), "most of the 160 data clusters are shared");
            Assert.That(readClusters.Intersect(shared), Is.Empty, "no shared data cluster was read");
            Assert.That(result.CandidateBytes, Is.LessThanOrEqualTo(8L * Cluster), "candidates: the clusters whose mapping changed");
            Assert.That(readBytes, Is.LessThan(32L * Cluster), "metadata and the candidates only, not the 10 MiB of data");
        });
    }

    [Test]
    public void Backing_against_active_reads_only_what_the_overlay_holds()
    {
        using var dir = new TempDir("diff-backing");
        string base_ = dir.Combine("base.qcow2");
        string top = dir.Combine("top.qcow2");
        QemuTools.Ok(QemuTools.QemuImg, "create", "-q", "-f", "qcow2", base_, "16M");
        QemuTools.Ok(QemuTools.QemuIo, "-c", "write -P 0x11 0 8M", base_);
        QemuTools.Ok(QemuTools.QemuImg, "create", "-q", "-f", "qcow2", "-b", base_, "-F", "qcow2", top);
        QemuTools.Ok(QemuTools.QemuIo, "-c", "write -P 0x22 1M 512", "-c", "write -P 0x11 3M 64k", "-c", "write -P 0x33 12M 4k", top);
        var files = new ConcurrentBag<CountingHostFile>();

        var result = ViewDiff.Run(top, DiffView.Backing, DiffView.Active, CountingHostFile.Counting(files));

        Assert.That(result.Ranges, Is.EqualTo(new[] { new DiffRange(1 << 20, 512), new DiffRange(12 << 20, 4096) }));
        Assert.That(result.CandidateBytes, Is.EqualTo(3L * Cluster), "the three clusters the overlay holds");
        long baseBytes = files.Where(f => f.Path.EndsWith("base.qcow2", StringComparison.Ordinal)).SelectMany(f => f.Reads).Sum(r => (long)r.Length);
        Assert.That(baseBytes, Is.LessThan(8L * Cluster), "the backing's 8 MiB of data are not read");
    }

    [Test]
    public void A_snapshot_of_another_size_reports_the_size_change()
    {
        using var dir = new TempDir("diff-resize");
        string image = dir.Combine("r.qcow2");
        QemuTools.Ok(QemuTools.QemuImg, "create", "-q", "-f", "qcow2", image, "4M");
        QemuTools.Ok(QemuTools.QemuImg, "snapshot", "-c", "small", image);
        QemuTools.Ok(QemuTools.QemuImg, "resize", "-q", image, "6M");

        var result = ViewDiff.Run(image, DiffView.Snapshot("small"), DiffView.Active);

        Assert.That((result.FromLength, result.ToLength, result.SizeChanged, result.Ranges.Count), Is.EqualTo((4L << 20, 6L << 20, true, 0)));
    }

    [Test]
    public void Backing_of_an_image_without_one_is_a_clear_error()
    {
        using var dir = new TempDir("diff-nobacking");
        string image = dir.Combine("n.qcow2");
        QemuTools.Ok(QemuTools.QemuImg, "create", "-q", "-f", "qcow2", image, "1M");

        Assert.That(() => ViewDiff.Run(image, DiffView.Backing, DiffView.Active),
            Throws.TypeOf<Qcow2Exception>().With.Message.Contains("has no backing file"));
    }
}
