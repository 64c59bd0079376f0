using NUnit.Framework;
using Qcow2Mount.TestSupport;
using Qcow2Mount.Qcow2.Create;
using Qcow2Mount.Qcow2.Tests.Writes;
using static Qcow2Mount.Qcow2.Tests.Snapshots.SnapshotOracle;

namespace Qcow2Mount.Qcow2.Tests.Snapshots;

/// <summary>
/// Random writes, write-zeroes, discards, reopens and snapshot create/apply/delete, applied both to an image and
/// to a model (the active bytes plus a dictionary of snapshot name to bytes). Along the way the image reads as the
/// model; at the end qemu-img check is clean, qemu-img compare agrees with the active model, and every snapshot
/// reads as its model through qemu-img and through our engine.
/// </summary>
[TestFixture]
[Parallelizable(ParallelScope.Children)]
internal sealed class SnapshotDifferentialTests
{
    private const long Size = 3L << 20;
    private const int Operations = 250;

    internal sealed record Case(string Name, CreateOptions Create, bool Lazy, bool Backing = false, bool TinyCaches = false)
    {
        public override string ToString() => Name;
    }

    public static IEnumerable<Case> Cases()
    {
        CreateOptions o(int cluster, int refcountBits = 16, string compat = "1.1", bool extendedL2 = false) =>
            new() { Size = Size, ClusterSize = cluster, RefcountBits = refcountBits, Compat = compat, ExtendedL2 = extendedL2 };
        yield return new("64k-eager", o(65536), false);
        yield return new("64k-lazy", o(65536), true);
        yield return new("v2-4k", o(4096, compat: "0.10"), false);
        yield return new("512-rc64", o(512, 64), false);
        yield return new("1k-rc8-lazy", o(1024, 8), true);
        yield return new("extl2-16k", o(16384, extendedL2: true), false);
        yield return new("64k-backing-lazy", o(65536), true, Backing: true);
        yield return new("4k-rc32-backing", o(4096, 32), false, Backing: true);
        yield return new("v2-64k-backing", o(65536, compat: "0.10"), false, Backing: true);

        // 16-entry caches: snapshot refcount updates and copy-on-write fill them between fsyncs.
        yield return new("512-rc64-tiny-caches-lazy", o(512, 64), true, TinyCaches: true);
        yield return new("4k-tiny-caches-eager", o(4096), false, TinyCaches: true);
    }

    [TestCaseSource(nameof(Cases))]
    public void Random_operations_and_snapshots_match_the_model(Case c)
    {
        string qemuImg = QemuTools.QemuImg;
        using var dir = new TempDir("snapdiff");
        string image = dir.Combine("image.qcow2");
        int seed = c.Name.Aggregate(17, (h, ch) => unchecked((h * 31) + ch)) & 0x7FFFFFFF;
        TestContext.Out.WriteLine($"seed {seed}");
        var initial = new byte[Size];
        var create = c.Create;
        if (c.Backing)
        {
            // Snapshots over a backing file: unallocated clusters of every view read through to it.
            new Random(seed ^ 0x5A5A).NextBytes(initial);
            File.WriteAllBytes(dir.Combine("base.raw"), initial);
            QemuTools.Ok(qemuImg, "convert", "-f", "raw", "-O", "qcow2", dir.Combine("base.raw"), dir.Combine("base.qcow2"));
            create = create with { BackingFile = "base.qcow2", BackingFormat = "qcow2" };
        }

        ImageCreator.Create(image, create);
        var model = new WriteModel(initial, seed) { ClusterSize = c.Create.ClusterSize };
        var snapshots = new Dictionary<string, byte[]>();
        var random = new Random(seed ^ 0x3C3C);
        int created = 0;
        var options = new Qcow2OpenOptions
        {
            Writable = true,
            LazyRefcounts = c.Lazy,
            L2CacheBytes = c.TinyCaches ? 1 : 8 * c.Create.ClusterSize,
            RefcountCacheBytes = c.TinyCaches ? 1 : new Qcow2OpenOptions().RefcountCacheBytes,
        };
        var disk = Qcow2Image.Open(image, options);
        try
        {
            for (int i = 0; i < Operations; i++)
            {
                var (offset, length) = model.NextRange();
                string? existing = snapshots.Count == 0 ? null : snapshots.Keys.ElementAt(random.Next(snapshots.Count));
                switch (model.NextOperation(30))
                {
                    case < 16:
                        var data = model.NextData(length);
                        disk.WriteAt(offset, data);
                        model.Write(offset, data);
                        break;
                    case < 18:
                        disk.WriteZeroes(offset, length);
                        model.Zero(offset, length);
                        break;
                    case < 20:
                        disk.Discard(offset, length);
                        model.Zero(offset, length);
                        break;
                    case < 24:
                        string name = $"snap{created++}";
                        disk.CreateSnapshot(name);
                        snapshots[name] = (byte[])model.Bytes.Clone();
                        break;
                    case < 26 when existing is not null:
                        disk.ApplySnapshot(existing);
                        snapshots[existing].CopyTo(model.Bytes, 0);
                        model.AssertMatches(disk, $"op {i}: right after applying {existing}");
                        break;
                    case < 28 when existing is not null:
                        disk.DeleteSnapshot(existing);
                        snapshots.Remove(existing);
                        break;
                    case 28:
                        disk.Flush();
                        break;
                    default:
                        disk.Dispose();
                        disk = Qcow2Image.Open(image, options);
                        Assert.That(disk.Snapshots.Select(s => s.Name), Is.EquivalentTo(snapshots.Keys), $"op {i}: snapshots after reopen");
                        break;
                }
            }

            model.AssertMatches(disk, c.Name);
        }
        finally
        {
            disk.Dispose();
        }

        AssertClean(image, c.Name);
        Assert.That(QemuSnapshotNames(image), Is.EquivalentTo(snapshots.Keys));
        string expectedRaw = dir.Combine("expected.raw");
        File.WriteAllBytes(expectedRaw, model.Bytes);
        var (code, stdout, stderr) = QemuTools.RunIn(dir.Path, qemuImg, "compare", "-f", "qcow2", "-F", "raw", image, expectedRaw);
        Assert.That(code, Is.Zero, $"qemu-img compare: {stdout}{stderr}");
        foreach (var (name, bytes) in snapshots)
        {
            AssertBytes(QemuSnapshotView(image, dir.Path, name), bytes, $"qemu-img reads {name}");
            AssertBytes(OurView(image, name), bytes, $"we read {name}");
        }

        Assert.That(snapshots, Is.Not.Empty, "the sequence should leave snapshots to check");
    }
}
