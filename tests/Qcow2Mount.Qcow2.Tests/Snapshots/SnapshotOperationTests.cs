using System.Buffers.Binary;
using NUnit.Framework;
using Qcow2Mount.TestSupport;
using Qcow2Mount.Qcow2.Create;
using static Qcow2Mount.Qcow2.Tests.Snapshots.SnapshotOracle;

namespace Qcow2Mount.Qcow2.Tests.Snapshots;

/// <summary>
/// Create, delete and apply internal snapshots with our engine, with qemu-img as the oracle on both sides: images
/// and snapshots made by one tool are changed by the other, and after each step qemu-img check is clean and every
/// view (active and snapshot) reads what it should, through qemu-img and through our engine.
/// </summary>
[TestFixture]
[Parallelizable(ParallelScope.Children)]
internal sealed class SnapshotOperationTests
{
    private static readonly Qcow2OpenOptions s_writable = new() { Writable = true };

    [TestCaseSource(typeof(SnapshotFormat), nameof(SnapshotFormat.All))]
    public void Snapshot_created_by_us_keeps_its_view_while_we_write(SnapshotFormat format)
    {
        _ = QemuTools.QemuImg;
        using var dir = new TempDir("snap");
        string image = dir.Combine("image.qcow2");
        var before = CreateImage(dir.Path, image, format, seed: 1);
        var active = (byte[])before.Clone();

        using (var disk = Qcow2Image.Open(image, s_writable))
        {
            var info = disk.CreateSnapshot("before writes");
            Assert.That((info.Id, info.Name, info.DiskSize, info.VmStateSize), Is.EqualTo(("1", "before writes", (ulong?)DiskSize, 0UL)));
            Assert.That(info.Date, Is.EqualTo(DateTimeOffset.UtcNow).Within(TimeSpan.FromMinutes(1)));
            ScribbleWithUs(disk, active, seed: 2);
            AssertBytes(ReadAll(disk), active, "active view while open");
        }

        AssertClean(image, format.Name);
        Assert.That(QemuSnapshotNames(image), Is.EqualTo(new[] { "before writes" }));
        AssertBytes(QemuSnapshotView(image, dir.Path, "before writes"), before, "qemu-img reads the snapshot");
        AssertBytes(OurView(image, "before writes"), before, "we read the snapshot");
        AssertBytes(QemuTools.ReadGuest(image, dir.Path), active, "qemu-img reads the active layer");
    }

    [TestCaseSource(typeof(SnapshotFormat), nameof(SnapshotFormat.All))]
    public void Qemu_snapshots_deleted_in_the_middle_and_applied_by_us(SnapshotFormat format)
    {
        string qemuImg = QemuTools.QemuImg;
        using var dir = new TempDir("snap");
        string image = dir.Combine("image.qcow2");
        var model = CreateImage(dir.Path, image, format, seed: 3);
        var views = new Dictionary<string, byte[]>();
        foreach (var (name, pattern) in new[] { ("a", (byte)0x11), ("b", (byte)0x22), ("c", (byte)0x33) })
        {
            QemuTools.Ok(qemuImg, "snapshot", "-c", name, image);
            views[name] = (byte[])model.Clone();
            ScribbleWithQemu(image, model, pattern, pattern * 4096L, 70000);
        }

        using (var disk = Qcow2Image.Open(image, s_writable))
        {
            disk.DeleteSnapshot("b");
            Assert.That(disk.Snapshots.Select(s => s.Name), Is.EqualTo(new[] { "a", "c" }));
        }

        AssertClean(image, "after deleting b");
        Assert.That(QemuSnapshotNames(image), Is.EqualTo(new[] { "a", "c" }));
        AssertBytes(QemuSnapshotView(image, dir.Path, "a"), views["a"], "a after deleting b");
        AssertBytes(QemuSnapshotView(image, dir.Path, "c"), views["c"], "c after deleting b");
        AssertBytes(QemuTools.ReadGuest(image, dir.Path), model, "active after deleting b");

        using (var disk = Qcow2Image.Open(image, s_writable))
        {
            disk.ApplySnapshot("a");
            AssertBytes(ReadAll(disk), views["a"], "active right after apply");
            model = (byte[])views["a"].Clone();
            ScribbleWithUs(disk, model, seed: 4);
        }

        AssertClean(image, "after apply and writes");
        AssertBytes(QemuTools.ReadGuest(image, dir.Path), model, "active after apply and writes");
        AssertBytes(QemuSnapshotView(image, dir.Path, "a"), views["a"], "a after apply and writes");
        AssertBytes(OurView(image, "c"), views["c"], "c after apply and writes");

        using (var disk = Qcow2Image.Open(image, s_writable))
        {
            disk.DeleteSnapshot("1");
            disk.DeleteSnapshot("c");
            Assert.That(disk.Snapshots, Is.Empty);
        }

        AssertClean(image, "after deleting all");
        AssertBytes(QemuTools.ReadGuest(image, dir.Path), model, "active after deleting all");
        using var reopened = Qcow2Image.Open(image);
        Assert.That((reopened.Header.SnapshotCount, reopened.Header.SnapshotsOffset), Is.EqualTo((0u, 0UL)));
    }

    [TestCaseSource(typeof(SnapshotFormat), nameof(SnapshotFormat.All))]
    public void Snapshots_made_by_us_are_applied_and_deleted_by_qemu_img(SnapshotFormat format)
    {
        string qemuImg = QemuTools.QemuImg;
        using var dir = new TempDir("snap");
        string image = dir.Combine("image.qcow2");
        var first = CreateImage(dir.Path, image, format, seed: 5);
        var second = (byte[])first.Clone();
        var last = (byte[])first.Clone();
        using (var disk = Qcow2Image.Open(image, s_writable))
        {
            disk.CreateSnapshot("one");
            ScribbleWithUs(disk, second, seed: 6);
            disk.CreateSnapshot("two");
            second.CopyTo(last, 0);
            ScribbleWithUs(disk, last, seed: 7);
        }

        AssertClean(image, "after our creates");
        AssertBytes(QemuSnapshotView(image, dir.Path, "two"), second, "qemu-img reads two");
        QemuTools.Ok(qemuImg, "snapshot", "-a", "one", image);
        AssertClean(image, "after qemu-img applies one");
        AssertBytes(QemuTools.ReadGuest(image, dir.Path), first, "active after qemu-img applies one");
        QemuTools.Ok(qemuImg, "snapshot", "-d", "two", image);
        AssertClean(image, "after qemu-img deletes two");
        QemuTools.Ok(qemuImg, "snapshot", "-d", "one", image);
        AssertClean(image, "after qemu-img deletes one");
        AssertBytes(OurView(image), first, "we read the active layer");
    }

    [Test]
    public void Ids_follow_the_largest_numeric_id_and_entries_match_what_qemu_img_writes()
    {
        string qemuImg = QemuTools.QemuImg;
        using var dir = new TempDir("snap");
        string image = dir.Combine("image.qcow2");
        QemuTools.Ok(qemuImg, "create", "-q", "-f", "qcow2", image, "4M");
        QemuTools.Ok(qemuImg, "snapshot", "-c", "q1", image);
        QemuTools.Ok(qemuImg, "snapshot", "-c", "q2", image);
        QemuTools.Ok(qemuImg, "snapshot", "-d", "q1", image);
        using (var disk = Qcow2Image.Open(image, s_writable))
        {
            Assert.That(disk.CreateSnapshot("ours").Id, Is.EqualTo("3"));
        }

        QemuTools.Ok(qemuImg, "snapshot", "-c", "q3", image);
        IReadOnlyList<Qcow2Mount.Qcow2.Snapshots.SnapshotInfo> snapshots;
        using (var reopened = Qcow2Image.Open(image))
        {
            snapshots = reopened.Snapshots;
        }

        Assert.That(snapshots.Select(s => (s.Id, s.Name)), Is.EqualTo(new[] { ("2", "q2"), ("3", "ours"), ("4", "q3") }));
        // Every field but the date as qemu-img 7.2 writes it: no VM state, vm clock 0, disk size, icount 0.
        var (ours, theirs) = (snapshots[1], snapshots[2]);
        Assert.That((ours.VmStateSize, ours.VmClockNanoseconds, ours.DiskSize, ours.Icount),
            Is.EqualTo((theirs.VmStateSize, theirs.VmClockNanoseconds, theirs.DiskSize, theirs.Icount)));
        Assert.That(RawEntryExtraSizes(image), Is.EqualTo(new[] { 24, 24, 24 }));
        AssertClean(image, "mixed");
    }

    [Test]
    public void Apply_takes_the_snapshots_disk_size_and_l1_table()
    {
        string qemuImg = QemuTools.QemuImg;
        using var dir = new TempDir("snap");
        string image = dir.Combine("image.qcow2");
        QemuTools.Ok(qemuImg, "create", "-q", "-f", "qcow2", "-o", "cluster_size=512", image, "1M");
        var small = new byte[1 << 20];
        ScribbleWithQemu(image, small, 0x5a, 1000, 5000);
        using (var disk = Qcow2Image.Open(image, s_writable))
        {
            disk.CreateSnapshot("small");
        }

        // 512-byte clusters: 1 MiB needs 16 L1 entries, 40 MiB needs 640 (more than one L1 cluster).
        QemuTools.Ok(qemuImg, "resize", image, "40M");
        QemuTools.QemuIoWrite(image, "write -P 7 39M 64k");
        using (var disk = Qcow2Image.Open(image, s_writable))
        {
            Assert.That(disk.Length, Is.EqualTo(40L << 20));
            disk.ApplySnapshot("small");
            Assert.That(disk.Length, Is.EqualTo(1L << 20));
            AssertBytes(ReadAll(disk), small, "after apply");
            disk.CreateSnapshot("again");
            disk.WriteAt(0, new byte[] { 1, 2, 3 });
        }

        AssertClean(image, "after apply of a smaller snapshot");
        Assert.That(QemuTools.Info(image).GetProperty("virtual-size").GetInt64(), Is.EqualTo(1L << 20));
        AssertBytes(QemuSnapshotView(image, dir.Path, "again"), small, "snapshot of the applied state");
        new byte[] { 1, 2, 3 }.CopyTo(small, 0);
        AssertBytes(QemuTools.ReadGuest(image, dir.Path), small, "active after apply and a write");
    }

    [Test]
    public void Refuses_duplicates_unknown_names_read_only_images_and_external_data_files()
    {
        string qemuImg = QemuTools.QemuImg;
        using var dir = new TempDir("snap");
        string image = dir.Combine("image.qcow2");
        QemuTools.Ok(qemuImg, "create", "-q", "-f", "qcow2", image, "4M");
        using (var disk = Qcow2Image.Open(image, s_writable))
        {
            disk.CreateSnapshot("x");
            Assert.That(() => disk.CreateSnapshot("x"),
                Throws.TypeOf<Qcow2Exception>().With.Property(nameof(Qcow2Exception.Code)).EqualTo(Qcow2ErrorCode.InvalidArgument));
            Assert.That(() => disk.DeleteSnapshot("nope"),
                Throws.TypeOf<Qcow2Exception>().With.Property(nameof(Qcow2Exception.Code)).EqualTo(Qcow2ErrorCode.SnapshotNotFound));
            Assert.That(() => disk.ApplySnapshot("nope"),
                Throws.TypeOf<Qcow2Exception>().With.Property(nameof(Qcow2Exception.Code)).EqualTo(Qcow2ErrorCode.SnapshotNotFound));
            Assert.That(disk.Snapshots, Has.Count.EqualTo(1));
        }

        using (var readOnly = Qcow2Image.Open(image))
        {
            Assert.That(() => readOnly.CreateSnapshot("y"),
                Throws.TypeOf<Qcow2Exception>().With.Property(nameof(Qcow2Exception.Code)).EqualTo(Qcow2ErrorCode.ReadOnly));
        }

        string withData = dir.Combine("data.qcow2");
        QemuTools.Ok(qemuImg, "create", "-q", "-f", "qcow2", "-o", $"data_file={dir.Combine("data.raw")}", withData, "4M");
        using (var disk = Qcow2Image.Open(withData, s_writable))
        {
            Assert.That(() => disk.CreateSnapshot("y"),
                Throws.TypeOf<Qcow2Exception>().With.Property(nameof(Qcow2Exception.Code)).EqualTo(Qcow2ErrorCode.Unsupported));
        }

        AssertClean(image, "after refusals");
        AssertClean(withData, "data file image after refusal");
    }

    [TestCase(1, 0)]
    [TestCase(2, 2)]
    public void Narrow_refcounts_refuse_the_snapshot_that_would_overflow_like_qemu_img(int refcountBits, int fitting)
    {
        string qemuImg = QemuTools.QemuImg;
        using var dir = new TempDir("snap");
        string ours = dir.Combine("ours.qcow2"), theirs = dir.Combine("theirs.qcow2");
        foreach (string image in new[] { ours, theirs })
        {
            QemuTools.Ok(qemuImg, "create", "-q", "-f", "qcow2", "-o", $"refcount_bits={refcountBits},cluster_size=4096", image, "1M");
            QemuTools.QemuIoWrite(image, "write -P 9 0 100k");
        }

        var content = QemuTools.ReadGuest(ours, dir.Path);
        using (var disk = Qcow2Image.Open(ours, s_writable))
        {
            for (int i = 0; i < fitting; i++)
            {
                disk.CreateSnapshot($"s{i}");
                QemuTools.Ok(qemuImg, "snapshot", "-c", $"s{i}", theirs);
            }

            Assert.That(() => disk.CreateSnapshot("one too many"),
                Throws.TypeOf<Qcow2Exception>().With.Property(nameof(Qcow2Exception.Code)).EqualTo(Qcow2ErrorCode.InvalidArgument));
            Assert.That(disk.Snapshots, Has.Count.EqualTo(fitting));
            disk.WriteAt(0, new byte[] { 42 });
        }

        Assert.That(QemuTools.Run(qemuImg, "snapshot", "-c", "one too many", theirs).ExitCode, Is.Not.Zero, "qemu-img refuses too");
        AssertClean(ours, "after the refused snapshot");
        Assert.That(QemuSnapshotNames(ours), Has.Count.EqualTo(fitting));
        content[0] = 42;
        AssertBytes(QemuTools.ReadGuest(ours, dir.Path), content, "active after the refusal and a write");
    }

    [Test]
    public void Writes_in_flight_on_other_threads_never_reach_a_snapshot_half_way()
    {
        using var dir = new TempDir("snap");
        string image = dir.Combine("image.qcow2");
        ImageCreator.Create(image, new CreateOptions { Size = DiskSize, ClusterSize = 4096 });
        using (var disk = Qcow2Image.Open(image, s_writable))
        {
            // Each writer fills whole 4 KiB blocks with one byte value, so every block is uniform at all times:
            // a snapshot taken while writes run must capture each block either before or after its write.
            using var stop = new CancellationTokenSource();
            var writers = Enumerable.Range(0, 4).Select(w => Task.Run(() =>
            {
                var random = new Random(w);
                var block = new byte[4096];
                while (!stop.IsCancellationRequested)
                {
                    Array.Fill(block, (byte)random.Next(1, 256));
                    disk.WriteAt(random.Next((int)(DiskSize / 4096)) * 4096L, block);
                }
            })).ToArray();
            for (int i = 0; i < 10; i++)
            {
                disk.CreateSnapshot($"s{i}");
            }

            stop.Cancel();
            Task.WaitAll(writers);
        }

        AssertClean(image, "after concurrent writes");
        for (int i = 0; i < 10; i++)
        {
            var view = OurView(image, $"s{i}");
            for (int block = 0; block < view.Length; block += 4096)
            {
                var span = view.AsSpan(block, 4096);
                Assert.That(span.IndexOfAnyExcept(span[0]), Is.EqualTo(-1), $"s{i}: block at 0x{block:x} is torn");
            }
        }
    }

    private static byte[] ReadAll(Qcow2Image disk)
    {
        var bytes = new byte[disk.Length];
        Assert.That(disk.ReadAt(0, bytes), Is.EqualTo(bytes.Length));
        return bytes;
    }

    /// <summary>extra_size of each snapshot table entry, read from the raw bytes.</summary>
    private static int[] RawEntryExtraSizes(string image)
    {
        var file = File.ReadAllBytes(image);
        uint count = BinaryPrimitives.ReadUInt32BigEndian(file.AsSpan(60));
        int pos = (int)BinaryPrimitives.ReadUInt64BigEndian(file.AsSpan(64));
        var sizes = new int[count];
        for (int i = 0; i < count; i++)
        {
            int extra = (int)BinaryPrimitives.ReadUInt32BigEndian(file.AsSpan(pos + 36));
            int idLength = BinaryPrimitives.ReadUInt16BigEndian(file.AsSpan(pos + 12));
            int nameLength = BinaryPrimitives.ReadUInt16BigEndian(file.AsSpan(pos + 14));
            sizes[i] = extra;
            pos += (40 + extra + idLength + nameLength + 7) & ~7;
        }

        return sizes;
    }
}
