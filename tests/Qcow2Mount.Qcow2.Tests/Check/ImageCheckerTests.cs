using System.Buffers.Binary;
using System.Diagnostics;
using System.Security.Cryptography;
using NUnit.Framework;
using Qcow2Mount.TestSupport;
using Qcow2Mount.Qcow2.Check;
using Qcow2Mount.Qcow2.Create;
using Qcow2Mount.Qcow2.Format;
using Qcow2Mount.Qcow2.Refcounts;
using Qcow2Mount.Qcow2.Storage;

namespace Qcow2Mount.Qcow2.Tests.Check;

[TestFixture]
internal class ImageCheckerTests
{
    // ---- images built by qemu-img / qemu-io ------------------------------------------------------------------

    internal sealed record Scenario(string Name, Action<TempDir, string> Build)
    {
        public override string ToString() => Name;
    }

    private static void Create(string image, string options, string size = "4M", string? backing = null)
    {
        var args = new List<string> { "create", "-f", "qcow2" };
        if (options.Length > 0)
        {
            args.AddRange(["-o", options]);
        }

        if (backing is not null)
        {
            args.AddRange(["-b", backing, "-F", "qcow2"]);
        }

        args.Add(image);
        args.Add(size);
        var (code, stdout, stderr) = QemuTools.RunIn(Path.GetDirectoryName(image), QemuTools.QemuImg, [.. args]);
        Assert.That(code, Is.Zero, stderr + stdout);
    }

    private static void Snapshot(string image, string name) => QemuTools.Ok(QemuTools.QemuImg, "snapshot", "-c", name, image);

    private static IEnumerable<Scenario> CleanScenarios()
    {
        yield return new("plain", (_, img) =>
        {
            Create(img, "");
            QemuTools.QemuIoWrite(img, "write -P 0x11 0 256k", "write -P 0x22 1M 64k", "write -z 2M 64k");
        });
        yield return new("snapshots", (_, img) => BuildSnapshots(img, ""));
        yield return new("v2 snapshots", (_, img) => BuildSnapshots(img, "compat=0.10"));
        yield return new("refcount 8 snapshots", (_, img) => BuildSnapshots(img, "refcount_bits=8"));
        yield return new("refcount 64 snapshots", (_, img) => BuildSnapshots(img, "refcount_bits=64"));
        yield return new("refcount 2 snapshots", (_, img) => BuildSnapshots(img, "refcount_bits=2,cluster_size=4096"));
        yield return new("refcount 1", (_, img) =>
        {
            Create(img, "refcount_bits=1,cluster_size=512");
            QemuTools.QemuIoWrite(img, "write -P 0x11 0 300k", "write -P 0x22 1M 3k");
        });
        yield return new("extended L2 with snapshot", (_, img) =>
        {
            Create(img, "extended_l2=on,cluster_size=64k");
            QemuTools.QemuIoWrite(img, "write -P 0x11 0 4k", "write -P 0x22 100k 8k", "write -z 200k 4k");
            Snapshot(img, "s1");
            QemuTools.QemuIoWrite(img, "write -P 0x33 2k 2k", "discard 100k 4k");
        });
        yield return new("compressed", (dir, img) => BuildCompressed(dir, img, ""));
        yield return new("compressed zstd, 4K clusters", (dir, img) => BuildCompressed(dir, img, "compression_type=zstd,cluster_size=4096"));
        yield return new("backing", (dir, img) =>
        {
            string baseImage = dir.Combine("base.qcow2");
            Create(baseImage, "");
            QemuTools.QemuIoWrite(baseImage, "write -P 0x44 0 4M");
            Create(img, "", backing: "base.qcow2");
            QemuTools.QemuIoWrite(img, "write -P 0x55 64k 100k");
        });
        yield return new("data file", (_, img) =>
        {
            Create(img, "data_file=check.data");
            QemuTools.QemuIoWrite(img, "write -P 0x66 0 200k");
        });
        yield return new("bitmap", (_, img) =>
        {
            Create(img, "");
            QemuTools.Ok(QemuTools.QemuImg, "bitmap", "--add", img, "b0");
            QemuTools.QemuIoWrite(img, "write -P 0x77 0 1M");
        });
    }

    private static void BuildSnapshots(string img, string options)
    {
        Create(img, options);
        QemuTools.QemuIoWrite(img, "write -P 0x11 0 256k");
        Snapshot(img, "s1");
        QemuTools.QemuIoWrite(img, "write -P 0x22 64k 64k", "write -P 0x23 1M 64k");
        Snapshot(img, "s2");
        QemuTools.QemuIoWrite(img, "write -P 0x33 128k 4k");
    }

    private static void BuildCompressed(TempDir dir, string img, string options)
    {
        string raw = dir.Combine("src.raw");
        var data = new byte[2 << 20];
        for (int i = 0; i < data.Length; i++)
        {
            data[i] = (byte)(i % 251 < 100 ? i % 7 : 0x5a); // compressible, not all equal
        }

        File.WriteAllBytes(raw, data);
        var args = new List<string> { "convert", "-c", "-f", "raw", "-O", "qcow2" };
        if (options.Length > 0)
        {
            args.AddRange(["-o", options]);
        }

        args.AddRange([raw, img]);
        QemuTools.Ok(QemuTools.QemuImg, [.. args]);
        Snapshot(img, "s1");
        QemuTools.QemuIoWrite(img, "write -P 0x99 0 8k");
    }

    [TestCaseSource(nameof(CleanScenarios))]
    public void Counts_match_qemu_img_check_on_clean_images(Scenario s)
    {
        using var dir = new TempDir("engine");
        string img = dir.Combine("check.qcow2");
        s.Build(dir, img);
        var qemu = QemuTools.Check(img);
        Assert.That(qemu.ExitCode, Is.Zero, qemu.Stderr);
        string before = Hash(img);
        var ours = Run(img, () => ImageChecker.Check(img));
        Assert.That(Counts(ours), Is.EqualTo(Counts(qemu)), string.Join('\n', ours.Messages));
        Assert.That(ours.Messages, Is.Empty);
        Assert.That(Hash(img), Is.EqualTo(before), "check must not write");
    }

    private static (int, int, int, int, long, long, long, long, long) Counts(CheckResult r) =>
        (r.ExitCode, r.Corruptions, r.Leaks, r.CheckErrors, r.AllocatedClusters, r.TotalClusters, r.FragmentedClusters,
            r.CompressedClusters, r.ImageEndOffset);

    private static (int, int, int, int, long, long, long, long, long) Counts(QemuCheck q) =>
        (q.ExitCode, q.Corruptions, q.Leaks, q.CheckErrors, q.AllocatedClusters, q.TotalClusters, q.FragmentedClusters,
            q.CompressedClusters, q.ImageEndOffset);

    // ---- damage: compare with qemu-img check, then repair -----------------------------------------------------

    /// <summary>A damage applied to the "snapshots" image; DestroysData when the guest view changes.</summary>
    internal sealed record Damage(string Name, Action<Layout> Apply, bool DestroysData = false, bool LeaksOnly = false)
    {
        public override string ToString() => Name;
    }

    private static IEnumerable<Damage> Damages()
    {
        yield return new("refcount too high (leak)", l => l.SetRefcount(l.AppendCluster(), 1), LeaksOnly: true);
        // Guest cluster 2 was written after the last snapshot (refcount 1, COPIED); 0 and 1 are shared with snapshots.
        // The COPIED mismatch goes away once the leak is fixed: COPIED is checked against the repaired refcount.
        yield return new("refcount of a used cluster raised (leak + COPIED)", l => l.SetRefcount(l.DataCluster(2), 2), LeaksOnly: true);
        yield return new("refcount too low on a shared cluster", l => l.SetRefcount(l.DataCluster(0), 1));
        yield return new("refcount zero on a used cluster", l => l.SetRefcount(l.DataCluster(1), 0));
        yield return new("COPIED cleared", l => l.WriteL2(2, l.ReadL2(2) & ~L2Entry.Copied));
        yield return new("COPIED set on a shared cluster", l => l.WriteL2(0, l.ReadL2(0) | L2Entry.Copied));
        yield return new("COPIED cleared in the L1", l => l.WriteL1(0, l.ReadL1(0) & ~L1Entry.Copied));
        yield return new("two L2 entries share a cluster", l => l.WriteL2(1, l.ReadL2(2)), DestroysData: true);
        yield return new("refcount table entry cleared", l => l.WriteU64(l.Header.RefcountTableOffset, 0));
        yield return new("refcount block past EOF", l => l.WriteU64(l.Header.RefcountTableOffset, (ulong)l.FileLength + (1UL << 30)));
        yield return new("dirty and corrupt bits with a leak", l =>
        {
            l.SetRefcount(l.AppendCluster(), 1);
            l.WriteU64(72, (ulong)(IncompatibleFeatures.Dirty | IncompatibleFeatures.Corrupt));
        }, LeaksOnly: true);
    }

    [TestCaseSource(nameof(Damages))]
    public void Damage_is_counted_like_qemu_img_and_repaired(Damage damage)
    {
        using var dir = new TempDir("engine");
        string img = dir.Combine("check.qcow2");
        BuildSnapshots(img, "");
        var guestBefore = QemuTools.ReadGuest(img, dir.Path);
        damage.Apply(new Layout(img));

        var qemu = QemuTools.Check(img);
        string before = Hash(img);
        var ours = Run(img, () => ImageChecker.Check(img));
        Assert.That(Hash(img), Is.EqualTo(before), "check must not write");
        Assert.That((ours.ExitCode, ours.Corruptions, ours.Leaks), Is.EqualTo((qemu.ExitCode, qemu.Corruptions, qemu.Leaks)),
            $"ours:\n{string.Join('\n', ours.Messages)}\nqemu-img:\n{qemu.Stderr}");
        Assert.That(ours.ExitCode, Is.Not.Zero, "the damage must be visible");

        var repaired = Run(img, () => ImageChecker.Repair(img, RepairMode.All));
        Assert.That(repaired.ExitCode, Is.Zero, string.Join('\n', repaired.Messages));
        Assert.That(repaired.CorruptionsFixed + repaired.LeaksFixed, Is.Positive);
        var after = QemuTools.Check(img);
        Assert.That((after.ExitCode, after.Corruptions, after.Leaks), Is.EqualTo((0, 0, 0)), after.Stderr);
        Assert.That(new Layout(img).Header.IncompatibleFeatures & (IncompatibleFeatures.Dirty | IncompatibleFeatures.Corrupt),
            Is.EqualTo(IncompatibleFeatures.None), "a repair that leaves no corruption clears dirty and corrupt");

        if (!damage.DestroysData)
        {
            Assert.That(QemuTools.ReadGuest(img, dir.Path), Is.EqualTo(guestBefore), "repair must keep the guest data");
        }
    }

    [TestCaseSource(nameof(Damages))]
    public void Repair_leaks_fixes_leak_only_images_and_only_those(Damage damage)
    {
        using var dir = new TempDir("engine");
        string img = dir.Combine("check.qcow2");
        BuildSnapshots(img, "");
        damage.Apply(new Layout(img));
        var result = ImageChecker.Repair(img, RepairMode.Leaks);
        var after = QemuTools.Check(img);
        if (damage.LeaksOnly)
        {
            Assert.That((result.ExitCode, result.LeaksFixed), Is.EqualTo((0, 1)), string.Join('\n', result.Messages));
            Assert.That(after.ExitCode, Is.Zero, after.Stderr);
        }
        else
        {
            Assert.That(result.ExitCode, Is.EqualTo(1).Or.EqualTo(2), string.Join('\n', result.Messages));
            Assert.That(after.ExitCode, Is.EqualTo(2), "qemu-img still sees the corruption");
            Assert.That(result.Corruptions + result.CheckErrors, Is.Positive, "leak repair must leave corruptions alone");
        }
    }

    /// <summary>
    /// A truncated copy (a download or disk image cut short): every data cluster or table a whole cluster or more
    /// past the end is a corruption, as qemu-img counts it; a last cluster the file ends inside is not. Counting
    /// those references quietly, as this check once did, called such an image clean.
    /// </summary>
    [TestCase(1_000_000)]
    [TestCase(300_000)]
    [TestCase(8_716_288 - 100)]
    public void A_truncated_image_is_corrupt_like_qemu_img_says(long length)
    {
        using var dir = new TempDir("engine");
        string img = dir.Combine("cut.qcow2");
        QemuTools.Ok(QemuTools.QemuImg, "create", "-f", "qcow2", img, "16M");
        QemuTools.QemuIoWrite(img, "write -P 0x11 0 8M");
        Assert.That(new FileInfo(img).Length, Is.EqualTo(8_716_288), "the layout this test cuts into");
        using (var file = File.OpenWrite(img))
        {
            file.SetLength(length);
        }

        var qemu = QemuTools.Check(img);
        var ours = Run(img, () => ImageChecker.Check(img));
        Assert.That(Counts(ours), Is.EqualTo(Counts(qemu)), $"ours:\n{string.Join('\n', ours.Messages.Take(5))}\nqemu-img:\n{qemu.Stderr}");
        Assert.That(ours.ExitCode, Is.EqualTo(length < 8_716_288 - 65536 ? 2 : 0));
    }

    /// <summary>
    /// check --repair against an image a writable mount has open (lazy refcounts still in memory) would rewrite
    /// refcounts under the writer: refused, nothing written; once the writer is gone, the repair runs.
    /// </summary>
    [Test]
    public void Repair_refuses_an_image_another_writer_has_open()
    {
        using var dir = new TempDir("engine");
        string img = dir.Combine("busy.qcow2");
        QemuTools.Ok(QemuTools.QemuImg, "create", "-f", "qcow2", img, "4M");
        using (var writer = Qcow2Image.Open(img, new Qcow2OpenOptions { Writable = true }))
        {
            writer.WriteAt(0, new byte[65536]);
            byte[] before = File.ReadAllBytes(img);
            var e = Assert.Throws<Qcow2Exception>(() => ImageChecker.Repair(img, RepairMode.All));
            Assert.That(e!.Code, Is.EqualTo(Qcow2ErrorCode.Locked));
            Assert.That(File.ReadAllBytes(img), Is.EqualTo(before), "the refused repair wrote nothing");
            Assert.That(Assert.Throws<Qcow2Exception>(() => ImageChecker.Check(img))!.Code, Is.EqualTo(Qcow2ErrorCode.Locked),
                "a plain check would read metadata half-written");
            Assert.That(ImageChecker.Check(img, new CheckOptions { ForceShare = true }).CheckErrors, Is.Zero, "a forced check still runs");
        }

        Assert.That(ImageChecker.Repair(img, RepairMode.All).ExitCode, Is.Zero);
    }

    [Test]
    public void Dirty_lazy_refcount_image_after_a_crash_is_repaired_and_marked_clean()
    {
        using var dir = new TempDir("engine");
        string img = dir.Combine("check.qcow2");
        Create(img, "lazy_refcounts=on");
        QemuTools.QemuIoWrite(img, "write -P 0x11 0 128k");
        // qemu-io's abort leaves the dirty bit set and the refcounts behind, as a crash would.
        QemuTools.RunIn(dir.Path, QemuTools.QemuIo, "-f", "qcow2", "-c", "write -P 0x5a 1M 192k", "-c", "abort", img);
        Assert.That(new Layout(img).Header.IsDirty, Is.True);
        var qemu = QemuTools.Check(img);
        var ours = ImageChecker.Check(img);
        Assert.That((ours.ExitCode, ours.Corruptions, ours.Leaks), Is.EqualTo((qemu.ExitCode, qemu.Corruptions, qemu.Leaks)),
            $"{string.Join('\n', ours.Messages)}\n{qemu.Stderr}");

        var repaired = ImageChecker.Repair(img, RepairMode.All);
        Assert.That(repaired.ExitCode, Is.Zero, string.Join('\n', repaired.Messages));
        Assert.That(new Layout(img).Header.IsDirty, Is.False);
        Assert.That(QemuTools.Check(img).ExitCode, Is.Zero);
        using var image = Qcow2Image.Open(img);
        var buffer = new byte[192 * 1024];
        image.ReadAt(1 << 20, buffer);
        Assert.That(buffer.All(b => b == 0x5a), Is.True);
    }

    [Test]
    public void Stale_bitmaps_extension_without_the_autoclear_bit_leaks_like_qemu_says()
    {
        using var dir = new TempDir("engine");
        string img = dir.Combine("check.qcow2");
        Create(img, "");
        QemuTools.Ok(QemuTools.QemuImg, "bitmap", "--add", img, "b0");
        var layout = new Layout(img);
        layout.WriteU64(88, (ulong)(layout.Header.AutoclearFeatures & ~AutoclearFeatures.Bitmaps));
        var qemu = QemuTools.Check(img);
        var ours = ImageChecker.Check(img);
        Assert.That((ours.ExitCode, ours.Leaks, ours.Corruptions), Is.EqualTo((qemu.ExitCode, qemu.Leaks, qemu.Corruptions)), qemu.Stderr);
    }

    [Test]
    public void Repair_refuses_a_read_only_file()
    {
        using var dir = new TempDir("engine");
        string img = dir.Combine("a.qcow2");
        ImageCreator.Create(img, new CreateOptions { Size = 1 << 20 });
        using var file = HostFile.Open(img, writable: false);
        var e = Assert.Throws<Qcow2Exception>(() => ImageChecker.Repair(file, RepairMode.All));
        Assert.That(e!.Code, Is.EqualTo(Qcow2ErrorCode.ReadOnly));
    }

    [Test]
    public void Images_with_more_clusters_than_the_limit_are_refused_with_a_check_error()
    {
        using var dir = new TempDir("engine");
        string img = dir.Combine("a.qcow2");
        ImageCreator.Create(img, new CreateOptions { Size = 1 << 20, ClusterSize = 512 });
        var result = ImageChecker.Check(img, new CheckOptions { MaxTrackedClusters = 2 });
        Assert.That(result.ExitCode, Is.EqualTo(1));
        Assert.That(result.Messages.Single(), Does.Contain("MaxTrackedClusters"));
    }

    // ---- hostile images ---------------------------------------------------------------------------------------

    private static IEnumerable<TestCaseData> Hostile()
    {
        yield return new TestCaseData((Action<Layout>)(l => l.Truncate(l.FileLength / 2))).SetName("truncated in the middle");
        yield return new TestCaseData((Action<Layout>)(l => l.Truncate(100))).SetName("truncated inside the header");
        yield return new TestCaseData((Action<Layout>)(l => l.Truncate(0))).SetName("empty file");
        yield return new TestCaseData((Action<Layout>)(l => l.WriteU64(48, 1UL << 55))).SetName("huge refcount table pointer");
        yield return new TestCaseData((Action<Layout>)(l => l.WriteU32(56, uint.MaxValue))).SetName("huge refcount table size");
        yield return new TestCaseData((Action<Layout>)(l => l.WriteL1(0, L1Entry.Copied | l.Header.L1TableOffset))).SetName("L1 entry points at the L1 table");
        yield return new TestCaseData((Action<Layout>)(l => l.WriteL2(0, L2Entry.Copied | l.L2Offset))).SetName("L2 entry points at its own table");
        yield return new TestCaseData((Action<Layout>)(l => l.WriteL2(0, L2Entry.Copied | (0xFFUL << 48)))).SetName("data cluster far past EOF");
        yield return new TestCaseData((Action<Layout>)(l => l.WriteL2(0, L2Entry.CompressedFlag | 0x3FFF_FFFF_FFFF_FFFFUL))).SetName("compressed cluster past EOF");
        yield return new TestCaseData((Action<Layout>)(l => l.WriteU32(60, 65536))).SetName("snapshot count too large");
        yield return new TestCaseData((Action<Layout>)(l => l.WriteU64(l.Header.SnapshotsOffset, 0x1234))).SetName("snapshot L1 misaligned");
        yield return new TestCaseData((Action<Layout>)(l => l.WriteU32((long)l.Header.SnapshotsOffset + 8, 4u << 20))).SetName("snapshot L1 too large");
        yield return new TestCaseData((Action<Layout>)(l =>
        {
            // every refcount table slot points at the same block
            for (long i = 0; i < 64; i++)
            {
                l.WriteU64(l.Header.RefcountTableOffset + (ulong)(i * 8), l.ReadU64(l.Header.RefcountTableOffset));
            }
        })).SetName("refcount table entries all point at one block");
        yield return new TestCaseData((Action<Layout>)(l => l.WriteU64(l.Header.RefcountTableOffset, 0x201))).SetName("refcount table entry with reserved bits");
    }

    [TestCaseSource(nameof(Hostile))]
    public void Hostile_images_give_errors_in_bounded_time_and_repair_does_not_crash(Action<Layout> damage)
    {
        using var dir = new TempDir("engine");
        string img = dir.Combine("check.qcow2");
        BuildSnapshots(img, "");
        damage(new Layout(img));
        var result = Run(img, () => ImageChecker.Check(img));
        Assert.That(result.ExitCode, Is.EqualTo(1).Or.EqualTo(2), string.Join('\n', result.Messages));
        Assert.That(result.Messages, Is.Not.Empty);
        var qemu = QemuTools.Check(img);
        Assert.That(qemu.ExitCode, Is.Not.Zero, "qemu-img agrees the image is broken");
        var repaired = Run(img, () => ImageChecker.Repair(img, RepairMode.All));
        Assert.That(repaired.ExitCode, Is.InRange(0, 3));
    }

    [Test]
    public void Random_metadata_corruption_never_crashes_the_checker()
    {
        using var dir = new TempDir("engine");
        string pristine = dir.Combine("pristine.qcow2");
        BuildSnapshots(pristine, "cluster_size=4096");
        var original = File.ReadAllBytes(pristine);
        var random = new Random(1234);
        string img = dir.Combine("fuzz.qcow2");
        for (int round = 0; round < 150; round++)
        {
            var bytes = (byte[])original.Clone();
            int flips = random.Next(1, 16);
            for (int i = 0; i < flips; i++)
            {
                // Most metadata lives in the first clusters and the snapshot/L1 tables at the end.
                int pos = random.Next(2) == 0 ? random.Next(Math.Min(bytes.Length, 8 * 4096)) : random.Next(bytes.Length);
                bytes[pos] ^= (byte)(1 << random.Next(8));
            }

            File.WriteAllBytes(img, bytes);
            var result = Run(img, () => ImageChecker.Check(img));
            Assert.That(result.ExitCode, Is.InRange(0, 3));
            Run(img, () => ImageChecker.Repair(img, RepairMode.All));
        }
    }

    private static CheckResult Run(string img, Func<CheckResult> action)
    {
        var watch = Stopwatch.StartNew();
        var result = action();
        Assert.That(watch.Elapsed, Is.LessThan(TimeSpan.FromSeconds(20)), $"check of {img} took too long");
        return result;
    }

    private static string Hash(string path) => Convert.ToHexString(SHA256.HashData(File.ReadAllBytes(path)));

    /// <summary>Byte-patching helpers on an image file, from its own header.</summary>
    internal sealed class Layout
    {
        private readonly string _path;

        public Layout(string path)
        {
            _path = path;
            var bytes = File.ReadAllBytes(path);
            Header = Qcow2Header.Parse(bytes.AsSpan(0, Math.Min(bytes.Length, 1 << 16)));
        }

        public Qcow2Header Header { get; }
        public long FileLength => new FileInfo(_path).Length;
        public ulong L2Offset => ReadL1(0) & L1Entry.OffsetMask;

        public ulong ReadU64(ulong offset)
        {
            using var f = File.OpenHandle(_path);
            Span<byte> b = stackalloc byte[8];
            RandomAccess.Read(f, b, (long)offset);
            return BinaryPrimitives.ReadUInt64BigEndian(b);
        }

        public void WriteU64(ulong offset, ulong value)
        {
            var b = new byte[8];
            BinaryPrimitives.WriteUInt64BigEndian(b, value);
            Write((long)offset, b);
        }

        public void WriteU32(long offset, uint value)
        {
            var b = new byte[4];
            BinaryPrimitives.WriteUInt32BigEndian(b, value);
            Write(offset, b);
        }

        private void Write(long offset, byte[] data)
        {
            using var f = File.OpenHandle(_path, FileMode.Open, FileAccess.ReadWrite);
            RandomAccess.Write(f, data, offset);
        }

        public void Truncate(long length)
        {
            using var f = File.OpenHandle(_path, FileMode.Open, FileAccess.ReadWrite);
            RandomAccess.SetLength(f, length);
        }

        public ulong ReadL1(int index) => ReadU64(Header.L1TableOffset + (ulong)(index * 8));
        public void WriteL1(int index, ulong value) => WriteU64(Header.L1TableOffset + (ulong)(index * 8), value);
        public ulong ReadL2(int index) => ReadU64(L2Offset + (ulong)(index * Header.L2EntrySize));
        public void WriteL2(int index, ulong value) => WriteU64(L2Offset + (ulong)(index * Header.L2EntrySize), value);

        /// <summary>Host cluster of guest cluster <paramref name="index"/> in the active layer.</summary>
        public long DataCluster(int index) => (long)(L2Entry.HostOffset(ReadL2(index)) >> Header.ClusterBits);

        /// <summary>Adds one zeroed cluster at the end of the file and returns its index.</summary>
        public long AppendCluster()
        {
            long clusters = (FileLength + Header.ClusterSize - 1) / Header.ClusterSize;
            Truncate((clusters + 1) * Header.ClusterSize);
            return clusters;
        }

        public void SetRefcount(long cluster, ulong value)
        {
            int blockBits = Header.ClusterBits + 3 - Header.RefcountOrder;
            ulong blockOffset = ReadU64(Header.RefcountTableOffset + (ulong)((cluster >> blockBits) * 8)) & ~0x1FFUL;
            Assert.That(blockOffset, Is.Not.Zero, "no refcount block covers the cluster");
            var block = new byte[Header.ClusterSize];
            using (var f = File.OpenHandle(_path))
            {
                RandomAccess.Read(f, block, (long)blockOffset);
            }

            RefcountEntries.Set(block, Header.RefcountOrder, (int)(cluster & ((1L << blockBits) - 1)), value);
            Write((long)blockOffset, block);
        }
    }
}
