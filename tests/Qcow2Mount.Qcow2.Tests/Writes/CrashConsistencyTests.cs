using NUnit.Framework;
using Qcow2Mount.TestSupport;
using Qcow2Mount.Qcow2.Check;
using Qcow2Mount.Qcow2.Create;
using Qcow2Mount.Qcow2.Storage;


namespace Qcow2Mount.Qcow2.Tests.Writes;

/// <summary>
/// Stops the world at each host write of a workload (allocating writes, zeroes, discards, flushes, a refcount-table
/// growth and a clean close; at an even spread of 400 of them when there are more), keeps only what a crash would
/// keep (everything, nothing since the last flush, or a torn last write), then proves: everything flushed
/// and not touched since reads back intact, the image holds at most leaks (never corruption), and after the
/// writable reopen (lazy refcounts) or check --repair leaks (eager) qemu-img check is clean.
/// </summary>
[TestFixture]
[Parallelizable(ParallelScope.Children)]
internal sealed class CrashConsistencyTests
{
    private const int Sector = 512;
    private const int MaxCrashPoints = 400;

    /// <summary>One configuration: the image's format options, how it is opened, and what a crash keeps.</summary>
    internal sealed record Case(bool Lazy, FaultInjectingFile.CrashKind Kind, int Cluster, int RefcountBits = 16)
    {
        public bool ExtendedL2 { get; init; }
        public bool Backing { get; init; }
        public bool TinyCaches { get; init; }
        public bool DataFile { get; init; }
        public bool DataFileRaw { get; init; }

        public override string ToString() =>
            $"{(Lazy ? "lazy" : "eager")}-{Kind}-{(Cluster >= 1024 ? $"{Cluster / 1024}k" : Cluster.ToString(System.Globalization.CultureInfo.InvariantCulture))}"
            + (RefcountBits != 16 ? $"-rc{RefcountBits}" : "") + (ExtendedL2 ? "-extl2" : "") + (Backing ? "-backing" : "")
            + (TinyCaches ? "-tiny-caches" : "") + (DataFile ? (DataFileRaw ? "-datafile-raw" : "-datafile") : "");
    }

    public static IEnumerable<Case> Cases()
    {
        foreach (bool lazy in new[] { true, false })
        {
            foreach (var kind in Enum.GetValues<FaultInjectingFile.CrashKind>())
            {
                yield return new(lazy, kind, 4096);
                yield return new(lazy, kind, 512, 64);
                yield return new(lazy, kind, 16384) { ExtendedL2 = true };
            }

            foreach (var kind in new[] { FaultInjectingFile.CrashKind.DropUnflushed, FaultInjectingFile.CrashKind.TearLast })
            {
                // Over a backing file: allocating writes copy the untouched parts of each cluster from it.
                yield return new(lazy, kind, 8192) { Backing = true };

                // The smallest caches: dirty L2 tables and refcount blocks are written back between fsyncs (with lazy
                // refcounts too), and the refcount table grows and moves.
                yield return new(lazy, kind, 512, 64) { TinyCaches = true };

                // An external data file crashes with the image: data must be durable before the tables point at it.
                yield return new(lazy, kind, 4096) { DataFile = true };
                yield return new(lazy, kind, 16384) { DataFile = true, DataFileRaw = true, ExtendedL2 = true };
            }
        }
    }

    [TestCaseSource(nameof(Cases))]
    public void Every_crash_point_leaves_flushed_data_and_at_most_leaks(Case c)
    {
        string qemuImg = QemuTools.QemuImg;
        using var dir = new TempDir("crash");
        string template = dir.Combine("template.qcow2");
        var create = new CreateOptions { Size = 2L << 20, ClusterSize = c.Cluster, RefcountBits = c.RefcountBits, ExtendedL2 = c.ExtendedL2 };
        var initial = new byte[2L << 20];
        if (c.Backing)
        {
            new Random(13).NextBytes(initial);
            File.WriteAllBytes(dir.Combine("base.raw"), initial);
            QemuTools.Ok(qemuImg, "convert", "-f", "raw", "-O", "qcow2", dir.Combine("base.raw"), dir.Combine("base.qcow2"));
            create = create with { BackingFile = "base.qcow2", BackingFormat = "qcow2" };
        }

        // The header names the data file by its real path: the workload writes an in-memory copy of it, and each
        // crash point puts what the crash kept there for the checks.
        string? dataPath = c.DataFile ? dir.Combine("data.bin") : null;
        create = create with { DataFile = dataPath, DataFileRaw = c.DataFileRaw };
        ImageCreator.Create(template, create);
        byte[] pristine = File.ReadAllBytes(template);
        byte[]? pristineData = dataPath is null ? null : File.ReadAllBytes(dataPath);
        var workload = new Workload(dir.Combine("crash.qcow2"), pristine, initial, c, dataPath, pristineData);
        bool lazy = c.Lazy;
        var kind = c.Kind;

        int totalWrites = workload.Run(crashAt: null, out _, out _).Image.WriteCount;
        Assert.That(totalWrites, Is.GreaterThan(20), "the workload must do real metadata work");
        // Each crash point replays the workload, so the cost grows with the square of its writes: every point up to
        // MaxCrashPoints (the 4k and 16k workloads: 160-250 writes), an even spread beyond (512-byte clusters: ~1200
        // writes, every third). Every point gets our own checks; qemu-img check (a process each) every Nth and the last.
        int step = (totalWrites + MaxCrashPoints - 1) / MaxCrashPoints;
        TestContext.Out.WriteLine($"{totalWrites} host writes: crash points every {step}");
        int qemuEvery = Math.Max(1, totalWrites / step / 60);
        string crashed = dir.Combine("crashed.qcow2");
        for (int crashAt = 1; crashAt <= totalWrites + 1; crashAt += step)
        {
            var (file, data) = workload.Run(crashAt, out byte[] durableModel, out bool[] touched);
            File.WriteAllBytes(crashed, file.CrashImage(kind));
            if (data is not null)
            {
                File.WriteAllBytes(dataPath!, data.CrashImage(kind));
            }
            string context = $"crash at write {crashAt}/{totalWrites} ({kind})";

            AssertAtMostLeaks(crashed, lazy, context);
            if (lazy)
            {
                // The writable open repairs a dirty image; its clean close leaves nothing to fix.
                using var reopened = Qcow2Image.Open(crashed, new Qcow2OpenOptions { Writable = true });
                AssertSectorsIntact(reopened, durableModel, touched, context, "was flushed and did not survive the crash");
            }
            else
            {
                AssertLeakRepairCleans(crashed, context);
                using var reopened = Qcow2Image.Open(crashed);
                AssertSectorsIntact(reopened, durableModel, touched, context, "was flushed and did not survive the crash");
            }

            if (crashAt / step % qemuEvery == 0 || crashAt + step > totalWrites + 1)
            {
                DifferentialTests.AssertQemuCheckClean(qemuImg, crashed, dir.Path);
            }
            else
            {
                var after = ImageChecker.Check(crashed);
                Assert.That(after.IsClean, Is.True, $"{context}: after recovery {after}");
            }
        }
    }

    /// <param name="Path">Where the in-memory image claims to live: its backing file, if any, is a real file beside it.</param>
    /// <param name="Pristine">The image file's bytes before the workload; every run starts from them.</param>
    /// <param name="Initial">The guest view before the workload (the backing file's content, or zeros).</param>
    /// <param name="Case">The case being run.</param>
    /// <param name="DataPath">The external data file the header names, if any (kept in memory during the workload).</param>
    /// <param name="PristineData">The data file's bytes before the workload, when there is one.</param>
    private sealed record Workload(string Path, byte[] Pristine, byte[] Initial, Case Case, string? DataPath, byte[]? PristineData)
    {
        /// <summary>
        /// Runs the workload on in-memory files that stop at write <paramref name="crashAt"/> (counted over the image
        /// and its data file); returns the files, the guest model as of the last completed flush, and which sectors
        /// changed after it.
        /// </summary>
        public (FaultInjectingFile Image, FaultInjectingFile? Data) Run(int? crashAt, out byte[] durableModel, out bool[] touched)
        {
            var file = new FaultInjectingFile(Path, Pristine) { CrashAtWrite = crashAt };
            var data = DataPath is null ? null : new FaultInjectingFile(DataPath, PristineData!) { CrashesWith = file };
            var options = new Qcow2OpenOptions
            {
                Writable = true,
                LazyRefcounts = Case.Lazy,
                L2CacheBytes = Case.TinyCaches ? 1 : new Qcow2OpenOptions().L2CacheBytes,
                RefcountCacheBytes = Case.TinyCaches ? 1 : new Qcow2OpenOptions().RefcountCacheBytes,
                // The image and its data file are in memory; the backing file is opened for real (read-only, never written).
                HostFileOpener = (opened, writable) =>
                    opened == Path ? file : opened == DataPath ? data! : HostFile.Open(opened, writable),
            };
            RunWorkload(Path, Initial, options, () => file.Crashed, out durableModel, out touched);
            return (file, data);
        }
    }

    private static void RunWorkload(
        string path, byte[] initial, Qcow2OpenOptions options, Func<bool> crashed, out byte[] durableModel, out bool[] touched)
    {
        var model = new WriteModel((byte[])initial.Clone(), seed: 7) { ClusterSize = 4096 };
        durableModel = (byte[])model.Bytes.Clone();
        touched = new bool[model.Bytes.Length / Sector];
        Qcow2Image? disk = null;
        try
        {
            disk = Qcow2Image.Open(path, options);
            for (int i = 0; i < 120; i++)
            {
                var (offset, length) = model.NextRange();
                int op = model.NextOperation(10);
                for (long s = offset / Sector; s <= (offset + length - 1) / Sector; s++)
                {
                    touched[s] = true;
                }

                if (op < 7)
                {
                    var data = model.NextData(length);
                    disk.WriteAt(offset, data);
                    model.Write(offset, data);
                }
                else if (op < 8)
                {
                    disk.WriteZeroes(offset, length);
                    model.Zero(offset, length);
                }
                else if (op < 9)
                {
                    disk.Discard(offset, length);
                    model.Zero(offset, length);
                }

                if (op == 9 || i % 15 == 14)
                {
                    disk.Flush();
                    durableModel = (byte[])model.Bytes.Clone();
                    Array.Clear(touched);
                }
            }

            disk.Dispose();
            durableModel = (byte[])model.Bytes.Clone();
            Array.Clear(touched);
        }
        catch (Exception e) when (crashed() && e is IOException or Qcow2Exception)
        {
            // The machine stopped; what the disk kept is the test's subject.
        }
    }

    /// <summary>
    /// An unclean stop (or a failed write) may leak clusters, never corrupt; with lazy refcounts, low refcounts are
    /// what the dirty bit announces, and only then.
    /// </summary>
    internal static void AssertAtMostLeaks(string image, bool lazy, string context)
    {
        var before = ImageChecker.Check(image);
        bool dirty = Qcow2Mount.Qcow2.Format.Qcow2Header.Parse(File.ReadAllBytes(image).AsSpan(0, 512)).IsDirty;
        if (!lazy || !dirty)
        {
            Assert.That(before.Corruptions, Is.Zero, $"{context}: {string.Join("; ", before.Messages.Take(5))}");
        }
    }

    internal static void AssertLeakRepairCleans(string image, string context)
    {
        var repaired = ImageChecker.Repair(image, RepairMode.Leaks);
        Assert.That(repaired.ExitCode, Is.Zero, $"{context}: repair left {repaired.Corruptions} corruptions, {repaired.Leaks} leaks");
    }

    /// <summary>Every sector not marked in <paramref name="skip"/> reads as in <paramref name="model"/>.</summary>
    internal static void AssertSectorsIntact(IVirtualDisk disk, byte[] model, bool[] skip, string context, string otherwise)
    {
        var buffer = new byte[model.Length];
        disk.ReadAt(0, buffer);
        for (int s = 0; s < skip.Length; s++)
        {
            if (!skip[s] && !buffer.AsSpan(s * Sector, Sector).SequenceEqual(model.AsSpan(s * Sector, Sector)))
            {
                Assert.Fail($"{context}: sector {s} {otherwise}");
            }
        }
    }
}
