using NUnit.Framework;
using Qcow2Mount.TestSupport;
using Qcow2Mount.Qcow2.Check;
using Qcow2Mount.Qcow2.Create;
using Qcow2Mount.Qcow2.Format;
using Qcow2Mount.Qcow2.Storage;
using Qcow2Mount.Qcow2.Tests.Writes;

namespace Qcow2Mount.Qcow2.Tests.Snapshots;

/// <summary>
/// Stops the world at every Nth host write of a workload of snapshot create, apply and delete between writes.
/// Whatever the crash keeps: no refcount is ever lower than its references, no cluster is marked COPIED while it
/// is shared once leaks are repaired (which would let a write destroy a snapshot), every snapshot the table lists reads exactly as when it
/// was taken, and check --repair all leaves an image qemu-img finds clean. The one inconsistency allowed is
/// QEMU's too: COPIED missing on a cluster whose refcount is back to 1 (harmless, it only costs a copy on write).
/// </summary>
[TestFixture]
[Parallelizable(ParallelScope.Children)]
internal sealed class SnapshotCrashTests
{
    private const long Size = 1L << 20;

    public static IEnumerable<TestCaseData> Cases()
    {
        foreach (bool lazy in new[] { false, true })
        {
            foreach (var kind in Enum.GetValues<FaultInjectingFile.CrashKind>())
            {
                yield return new TestCaseData(lazy, kind).SetArgDisplayNames($"{(lazy ? "lazy" : "eager")}-{kind}");
            }
        }
    }

    [TestCaseSource(nameof(Cases))]
    public void Every_crash_point_keeps_snapshots_intact_and_shared_clusters_unowned(bool lazy, FaultInjectingFile.CrashKind kind)
    {
        string qemuImg = QemuTools.QemuImg;
        using var dir = new TempDir("snapcrash");
        string template = dir.Combine("template.qcow2");
        ImageCreator.Create(template, new CreateOptions { Size = Size, ClusterSize = 4096 });
        byte[] pristine = File.ReadAllBytes(template);

        var (_, models) = RunWorkload(pristine, lazy, crashAt: null);
        int totalWrites = RunWorkload(pristine, lazy, crashAt: null).File.WriteCount;
        int step = Math.Max(1, totalWrites / 80);
        string crashed = dir.Combine("crashed.qcow2");
        int sawSnapshots = 0;
        for (int crashAt = 1; crashAt <= totalWrites + 1; crashAt += step)
        {
            File.WriteAllBytes(crashed, RunWorkload(pristine, lazy, crashAt).File.CrashImage(kind));
            string context = $"crash at write {crashAt}/{totalWrites} ({kind})";
            bool dirty = Qcow2Header.Parse(File.ReadAllBytes(crashed).AsSpan(0, 512)).IsDirty;
            if (!dirty)
            {
                // Leaks first (a reference counted but not yet linked is a leak): then the refcounts are the
                // references, and COPIED on a cluster with refcount 2 would mean a shared cluster owned alone.
                var leaksRepaired = ImageChecker.Repair(crashed, RepairMode.Leaks);
                var bad = leaksRepaired.Messages.Where(m => m.StartsWith("ERROR", StringComparison.Ordinal)
                    && !(m.Contains("OFLAG_COPIED", StringComparison.Ordinal) && m.EndsWith("refcount=1", StringComparison.Ordinal))).ToList();
                Assert.That(bad, Is.Empty, context);
            }

            var repaired = ImageChecker.Repair(crashed, RepairMode.All);
            Assert.That(repaired.Corruptions + repaired.CheckErrors, Is.Zero, $"{context}: {string.Join("; ", repaired.Messages.Take(5))}");
            DifferentialTests.AssertQemuCheckClean(qemuImg, crashed, dir.Path);

            using var image = Qcow2Image.Open(crashed);
            foreach (var snapshot in image.Snapshots)
            {
                sawSnapshots++;
                using var view = Qcow2Image.Open(crashed, new Qcow2OpenOptions { Snapshot = snapshot.Name });
                var bytes = new byte[view.Length];
                view.ReadAt(0, bytes);
                Assert.That(bytes.AsSpan().SequenceEqual(models[snapshot.Name]), Is.True, $"{context}: snapshot {snapshot.Name} changed");
            }
        }

        Assert.That(sawSnapshots, Is.GreaterThan(0), "some crash points must come after a snapshot exists");
    }

    [Test]
    public void A_snapshot_operation_that_fails_half_way_leaves_the_instance_read_only()
    {
        using var dir = new TempDir("snapcrash");
        string template = dir.Combine("template.qcow2");
        ImageCreator.Create(template, new CreateOptions { Size = Size, ClusterSize = 4096 });
#pragma warning disable CA2000 // Wrong: the image opens the file through HostFileOpener and disposes it.
        var file = new FaultInjectingFile("fail.qcow2", File.ReadAllBytes(template));
        using var disk = Qcow2Image.Open("fail.qcow2", new Qcow2OpenOptions { Writable = true, HostFileOpener = (_, _) => file });
#pragma warning restore CA2000
        disk.WriteAt(0, new byte[8192]);
        disk.Flush();

        // The third host write of the create (after its checks passed) fails.
        file.CrashAtWrite = file.WriteCount + 3;
        Assert.That(() => disk.CreateSnapshot("s"), Throws.TypeOf<IOException>());
        Assert.That(disk.CanWrite, Is.False, "memory and disk may disagree now: no more writes");
        Assert.That(() => disk.WriteAt(0, new byte[1]),
            Throws.TypeOf<Qcow2Exception>().With.Property(nameof(Qcow2Exception.Code)).EqualTo(Qcow2ErrorCode.ReadOnly));
    }

    /// <summary>Writes, snapshot a, writes, snapshot b, writes, apply a, writes, delete b, writes, close.</summary>
    private static (FaultInjectingFile File, Dictionary<string, byte[]> Models) RunWorkload(byte[] pristine, bool lazy, int? crashAt)
    {
        var file = new FaultInjectingFile("crash.qcow2", pristine) { CrashAtWrite = crashAt };
        var options = new Qcow2OpenOptions { Writable = true, LazyRefcounts = lazy, HostFileOpener = (_, _) => file };
        var model = new WriteModel(new byte[Size], seed: 11) { ClusterSize = 4096 };
        var models = new Dictionary<string, byte[]>();
        Qcow2Image? disk = null;
        try
        {
            disk = Qcow2Image.Open("crash.qcow2", options);
            void Writes()
            {
                for (int i = 0; i < 8; i++)
                {
                    var (offset, length) = model.NextRange();
                    var data = model.NextData(length);
                    disk.WriteAt(offset, data);
                    model.Write(offset, data);
                }
            }

            Writes();
            disk.CreateSnapshot("a");
            models["a"] = (byte[])model.Bytes.Clone();
            Writes();
            disk.CreateSnapshot("b");
            models["b"] = (byte[])model.Bytes.Clone();
            Writes();
            disk.ApplySnapshot("a");
            models["a"].CopyTo(model.Bytes, 0);
            Writes();
            disk.DeleteSnapshot("b");
            Writes();
            disk.Dispose();
        }
        catch (Exception e) when (file.Crashed && e is IOException or Qcow2Exception)
        {
            // The machine stopped; what the disk kept is the test's subject.
        }

        return (file, models);
    }
}
