using NUnit.Framework;

namespace Qcow2Mount.Qcow2.Tests.Resize;

/// <summary>Growing images made by qemu-img, judged by qemu-img check, info and the guest view qemu reads.</summary>
[TestFixture]
internal sealed class ResizeTests
{
    private static readonly Qcow2OpenOptions Writable = new() { Writable = true };

    internal sealed record Case(string Name, string Options, long OldSize, long NewSize)
    {
        public override string ToString() => Name;
    }

    private static IEnumerable<Case> Cases()
    {
        yield return new("v3, 64 KiB clusters, L1 big enough", "compat=1.1", 1 << 20, 5 << 20);
        yield return new("v3, 512-byte clusters, L1 moves", "compat=1.1,cluster_size=512", 1 << 20, 64 << 20);
        yield return new("v2, 512-byte clusters, L1 moves", "compat=0.10,cluster_size=512", 1 << 20, 64 << 20);
        yield return new("v2, 4 KiB clusters, L1 moves to two clusters", "compat=0.10,cluster_size=4096", 4 << 20, 3L << 30);
        yield return new("v3, 4 KiB clusters, odd sizes rounded to 512", "compat=1.1,cluster_size=4096", 1_000_448, 9_000_001);
        yield return new("v3, extended L2, L1 moves", "compat=1.1,cluster_size=16384,extended_l2=on", 1 << 20, 1L << 30);
        yield return new("v3, 1-bit refcounts, L1 moves", "compat=1.1,cluster_size=512,refcount_bits=1", 1 << 20, 64 << 20);
    }

    [TestCaseSource(nameof(Cases))]
    public void Grown_image_is_clean_keeps_its_data_reads_zeros_beyond_and_takes_writes(Case c)
    {
        using var dir = new TestSupport.TempDir("resize");
        string image = dir.Combine("img.qcow2");
        QemuTools.Ok(QemuTools.QemuImg, "create", "-q", "-f", "qcow2", "-o", c.Options, image, c.OldSize.ToString());
        QemuTools.QemuIoWrite(image, "write -P 0x5a 0 64k", $"write -P 0x6b {c.OldSize - 3000} 3000", "write -z 128k 8k");
        byte[] before = QemuTools.ReadGuest(image, dir.Path);

        long rounded = (c.NewSize + 511) & ~511L;
        using (var img = Qcow2Image.Open(image, Writable))
        {
            img.Resize(c.NewSize);
            Assert.That(img.Length, Is.EqualTo(rounded));
            img.WriteAt(c.OldSize - 100, Enumerable.Repeat((byte)0x7c, 5000).ToArray());
            img.WriteAt(rounded - 4096, Enumerable.Repeat((byte)0x8d, 4096).ToArray());
        }

        AssertClean(image);
        Assert.That(QemuTools.Info(image).GetProperty("virtual-size").GetInt64(), Is.EqualTo(rounded));
        if (rounded > 256 << 20)
        {
            // Too big to hold: check the written ranges and a stretch of the new area.
            QemuTools.QemuIoWrite(image, "read -P 0x5a 0 64k", "read -P 0 128k 8k", $"read -P 0x7c {c.OldSize - 100} 5000",
                $"read -P 0 {c.OldSize + 4900} 1M", $"read -P 0 {rounded - (8 << 20)} 4M", $"read -P 0x8d {rounded - 4096} 4096");
            using var img = Qcow2Image.Open(image);
            var tail = new byte[8 << 20];
            img.ReadAt(rounded - tail.Length, tail);
            Assert.That(tail.AsSpan(0, tail.Length - 4096).IndexOfAnyExcept((byte)0), Is.EqualTo(-1));
            Assert.That(tail.AsSpan(tail.Length - 4096).IndexOfAnyExcept((byte)0x8d), Is.EqualTo(-1));
            return;
        }

        var expected = new byte[rounded];
        before.CopyTo(expected, 0);
        expected.AsSpan((int)(c.OldSize - 100), 5000).Fill(0x7c);
        expected.AsSpan((int)(rounded - 4096), 4096).Fill(0x8d);
        AssertGuest(image, dir, expected);
    }

    [TestCase(16, 1)]
    [TestCase(16, 3)]
    [TestCase(1, 16)]
    public void L1_tables_larger_than_one_refcount_blocks_range_are_allocated(int refcountBits, int gibibytes)
    {
        // 512-byte clusters: one 16-bit refcount block counts 256 clusters (4096 with 1-bit refcounts). A 1 GiB disk
        // needs a 256 KiB L1 table, 512 contiguous clusters (3 GiB: 1536, 16 GiB: 8192), crossing ranges whose
        // blocks must then live elsewhere. This used to be refused: new blocks always took their range's first cluster.
        using var dir = new TestSupport.TempDir("resize");
        string image = dir.Combine("wide.qcow2");
        QemuTools.Ok(QemuTools.QemuImg, "create", "-q", "-f", "qcow2", "-o", $"cluster_size=512,refcount_bits={refcountBits}", image, "1M");
        QemuTools.QemuIoWrite(image, "write -P 0x31 0 1M");
        long size = (long)gibibytes << 30;
        using (var img = Qcow2Image.Open(image, Writable))
        {
            img.Resize(size);
            img.WriteAt(size - 4096, Enumerable.Repeat((byte)0x32, 4096).ToArray());
        }

        AssertClean(image);
        Assert.That(QemuTools.Info(image).GetProperty("virtual-size").GetInt64(), Is.EqualTo(size));
        QemuTools.QemuIoWrite(image, "read -P 0x31 0 1M", $"read -P 0 1M 4M", $"read -P 0x32 {size - 4096} 4096");
    }

    [Test]
    public void Snapshots_keep_their_own_size_and_data_when_the_l1_moves()
    {
        using var dir = new TestSupport.TempDir("resize");
        string image = dir.Combine("snap.qcow2");
        QemuTools.Ok(QemuTools.QemuImg, "create", "-q", "-f", "qcow2", "-o", "cluster_size=512", image, "1M");
        QemuTools.QemuIoWrite(image, "write -P 0x11 0 1M");
        QemuTools.Ok(QemuTools.QemuImg, "snapshot", "-c", "s1", image);
        QemuTools.QemuIoWrite(image, "write -P 0x22 0 4k");

        using (var img = Qcow2Image.Open(image, Writable))
        {
            img.Resize(64 << 20);
            img.WriteAt(60 << 20, new byte[] { 1, 2, 3 });
        }

        AssertClean(image);
        // Reverting to the snapshot (on a copy) brings back its size and data, as qemu-img does it.
        string reverted = dir.Combine("reverted.qcow2");
        File.Copy(image, reverted);
        QemuTools.Ok(QemuTools.QemuImg, "snapshot", "-a", "s1", reverted);
        Assert.That(QemuTools.Info(reverted).GetProperty("virtual-size").GetInt64(), Is.EqualTo(1 << 20));
        Assert.That(QemuTools.ReadGuest(reverted, dir.Path), Is.EqualTo(Enumerable.Repeat((byte)0x11, 1 << 20).ToArray()));
        AssertClean(reverted);
        using (var snap = Qcow2Image.Open(image, new Qcow2OpenOptions { Snapshot = "s1" }))
        {
            Assert.That(snap.Length, Is.EqualTo(1 << 20));
        }

        var expected = new byte[64 << 20];
        expected.AsSpan(0, 1 << 20).Fill(0x11);
        expected.AsSpan(0, 4096).Fill(0x22);
        expected[60 << 20] = 1;
        expected[(60 << 20) + 1] = 2;
        expected[(60 << 20) + 2] = 3;
        AssertGuest(image, dir, expected);
    }

    /// <summary>
    /// QEMU hides a larger backing file behind the new area (zero clusters; explicit zeros for a partial first
    /// cluster). The same resize done by qemu-img must give the same guest view.
    /// </summary>
    [TestCase("cluster_size=512", 1 << 20, 64 << 20, TestName = "Backing larger than the overlay, L1 moves")]
    [TestCase("cluster_size=4096", 1_000_448, 3 << 20, TestName = "Backing larger, overlay ends mid-cluster")]
    [TestCase("cluster_size=4096", 6 << 20, 9 << 20, TestName = "Backing smaller than the overlay")]
    public void Growing_over_a_backing_file_matches_qemu_img_resize(string options, long oldSize, long newSize)
    {
        using var dir = new TestSupport.TempDir("resize");
        string basePath = dir.Combine("base.qcow2"), ours = dir.Combine("ours.qcow2"), theirs = dir.Combine("theirs.qcow2");
        QemuTools.Ok(QemuTools.QemuImg, "create", "-q", "-f", "qcow2", basePath, "4M");
        QemuTools.QemuIoWrite(basePath, "write -P 0xaa 0 4M");
        QemuTools.Ok(QemuTools.QemuImg, "create", "-q", "-f", "qcow2", "-o", options, "-b", "base.qcow2", "-F", "qcow2", ours, oldSize.ToString());
        QemuTools.QemuIoWrite(ours, "write -P 0x33 4k 8k");
        File.Copy(ours, theirs);

        using (var img = Qcow2Image.Open(ours, Writable))
        {
            img.Resize(newSize);
        }

        QemuTools.Ok(QemuTools.QemuImg, "resize", "-f", "qcow2", theirs, newSize.ToString());
        AssertClean(ours);
        QemuTools.Ok(QemuTools.QemuImg, "compare", ours, theirs);
        byte[] guest = QemuTools.ReadGuest(ours, dir.Path);
        Assert.That(guest, Has.Length.EqualTo(newSize));
        Assert.That(guest.AsSpan((int)oldSize).IndexOfAnyExcept((byte)0), Is.EqualTo(-1), "backing data shows in the new area");
    }

    [Test]
    public void A_v2_overlay_over_a_larger_backing_file_is_refused_like_qemu_does()
    {
        using var dir = new TestSupport.TempDir("resize");
        string basePath = dir.Combine("base.qcow2"), overlay = dir.Combine("ov.qcow2");
        QemuTools.Ok(QemuTools.QemuImg, "create", "-q", "-f", "qcow2", basePath, "4M");
        QemuTools.QemuIoWrite(basePath, "write -P 0xaa 0 4M");
        QemuTools.Ok(QemuTools.QemuImg, "create", "-q", "-f", "qcow2", "-o", "compat=0.10", "-b", "base.qcow2", "-F", "qcow2", overlay, "1M");
        Assert.That(QemuTools.Run(QemuTools.QemuImg, "resize", "-f", "qcow2", overlay, "3M").ExitCode, Is.Not.Zero, "qemu-img now allows this");

        using (var img = Qcow2Image.Open(overlay, Writable))
        {
            var e = Assert.Throws<Qcow2Exception>(() => img.Resize(3 << 20))!;
            Assert.That(e.Code, Is.EqualTo(Qcow2ErrorCode.Unsupported));
            Assert.That(img.Length, Is.EqualTo(1 << 20));
        }

        AssertClean(overlay);
        Assert.That(QemuTools.Info(overlay).GetProperty("virtual-size").GetInt64(), Is.EqualTo(1 << 20));
    }

    [Test]
    public void Shrinking_is_refused_and_changes_nothing()
    {
        using var dir = new TestSupport.TempDir("resize");
        string image = dir.Combine("img.qcow2");
        QemuTools.Ok(QemuTools.QemuImg, "create", "-q", "-f", "qcow2", image, "4M");
        byte[] bytes = File.ReadAllBytes(image);
        using (var img = Qcow2Image.Open(image, Writable))
        {
            var e = Assert.Throws<Qcow2Exception>(() => img.Resize((4 << 20) - 4096))!;
            Assert.That(e.Code, Is.EqualTo(Qcow2ErrorCode.InvalidArgument));
            Assert.That(e.Message, Does.Contain("shrink"));
            img.Resize((4 << 20) - 100); // rounds up to the current size: nothing to do
            Assert.That(img.Length, Is.EqualTo(4 << 20));
        }

        Assert.That(File.ReadAllBytes(image), Is.EqualTo(bytes));
    }

    [Test]
    public void Read_only_image_refuses_to_grow()
    {
        using var dir = new TestSupport.TempDir("resize");
        string image = dir.Combine("img.qcow2");
        QemuTools.Ok(QemuTools.QemuImg, "create", "-q", "-f", "qcow2", image, "4M");
        using var img = Qcow2Image.Open(image);
        Assert.That(Assert.Throws<Qcow2Exception>(() => img.Resize(8 << 20))!.Code, Is.EqualTo(Qcow2ErrorCode.ReadOnly));
    }

    [Test]
    public void Raw_external_data_file_grows_with_the_disk()
    {
        using var dir = new TestSupport.TempDir("resize");
        string image = dir.Combine("img.qcow2"), data = dir.Combine("img.data");
        QemuTools.RunIn(dir.Path, QemuTools.QemuImg, "create", "-q", "-f", "qcow2", "-o", "data_file=img.data,data_file_raw=on,cluster_size=512", image, "1M");
        QemuTools.QemuIoWrite(image, "write -P 0x44 0 1M");
        using (var img = Qcow2Image.Open(image, Writable))
        {
            img.Resize(64 << 20);
            img.WriteAt((64 << 20) - 512, Enumerable.Repeat((byte)0x55, 512).ToArray());
        }

        Assert.That(new FileInfo(data).Length, Is.EqualTo(64 << 20));
        AssertClean(image);
        var expected = new byte[64 << 20];
        expected.AsSpan(0, 1 << 20).Fill(0x44);
        expected.AsSpan((64 << 20) - 512).Fill(0x55);
        AssertGuest(image, dir, expected);
    }

    [Test]
    public void Lazy_refcounts_open_grows_cleanly()
    {
        using var dir = new TestSupport.TempDir("resize");
        string image = dir.Combine("img.qcow2");
        QemuTools.Ok(QemuTools.QemuImg, "create", "-q", "-f", "qcow2", "-o", "cluster_size=512,lazy_refcounts=on", image, "1M");
        QemuTools.QemuIoWrite(image, "write -P 0x21 0 1M");
        using (var img = Qcow2Image.Open(image, new Qcow2OpenOptions { Writable = true, LazyRefcounts = true }))
        {
            img.Resize(64 << 20);
            img.WriteAt(32 << 20, new byte[4096]);
            img.WriteAt(40 << 20, Enumerable.Repeat((byte)9, 4096).ToArray());
        }

        AssertClean(image);
        var expected = new byte[64 << 20];
        expected.AsSpan(0, 1 << 20).Fill(0x21);
        expected.AsSpan(40 << 20, 4096).Fill(9);
        AssertGuest(image, dir, expected);
    }

    internal static void AssertClean(string image)
    {
        var check = QemuTools.Check(image);
        Assert.That((check.ExitCode, check.Corruptions, check.Leaks, check.CheckErrors), Is.EqualTo((0, 0, 0, 0)), check.Stderr);
    }

    /// <summary>The guest as qemu reads it, and as this engine reads it, equal <paramref name="expected"/>.</summary>
    internal static void AssertGuest(string image, TestSupport.TempDir dir, byte[] expected)
    {
        byte[] qemu = QemuTools.ReadGuest(image, dir.Path);
        Assert.That(qemu, Has.Length.EqualTo(expected.Length));
        Assert.That(qemu.AsSpan().SequenceEqual(expected), Is.True, $"qemu reads different bytes, first at {FirstDifference(qemu, expected)}");
        using var img = Qcow2Image.Open(image);
        var ours = new byte[expected.Length];
        Assert.That(img.ReadAt(0, ours), Is.EqualTo(expected.Length));
        Assert.That(ours.AsSpan().SequenceEqual(expected), Is.True, $"we read different bytes, first at {FirstDifference(ours, expected)}");
    }

    private static long FirstDifference(byte[] a, byte[] b) => a.AsSpan().CommonPrefixLength(b);
}
