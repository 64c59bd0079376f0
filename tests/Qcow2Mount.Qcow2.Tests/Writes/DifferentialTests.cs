using System.Text.Json;
using NUnit.Framework;
using Qcow2Mount.TestSupport;
using Qcow2Mount.Qcow2.Create;


namespace Qcow2Mount.Qcow2.Tests.Writes;

/// <summary>
/// Thousands of random writes, write-zeroes, discards, flushes and reopens applied both to an image and to an
/// in-memory model, across the format's options. After each sequence the guest view equals the model, and after
/// a clean close qemu-img check finds neither corruption nor leaks and qemu-img compare agrees with the model.
/// </summary>
[TestFixture]
[Parallelizable(ParallelScope.Children)]
internal sealed class DifferentialTests
{
    private const long DiskSize = 6L << 20;
    private const int Operations = 300;

    internal sealed record Case(string Name, CreateOptions Create, bool Backing, bool Lazy, string? DataFile = null, bool DataFileRaw = false, bool TinyCaches = false)
    {
        public override string ToString() => Name;
    }

    public static IEnumerable<Case> Cases()
    {
        CreateOptions o(int cluster = 65536, int refcountBits = 16, string compat = "1.1", bool extendedL2 = false) =>
            new() { Size = DiskSize, ClusterSize = cluster, RefcountBits = refcountBits, Compat = compat, ExtendedL2 = extendedL2 };
        foreach (bool lazy in new[] { true, false })
        {
            string l = lazy ? "lazy" : "eager";
            yield return new($"64k-{l}", o(), false, lazy);
            yield return new($"64k-backing-{l}", o(), true, lazy);
            yield return new($"4k-rc1-{l}", o(4096, 1), false, lazy);
            yield return new($"512-rc64-{l}", o(512, 64), false, lazy);
            yield return new($"1k-rc2-backing-{l}", o(1024, 2), true, lazy);
            yield return new($"2m-rc8-{l}", o(2 << 20, 8), true, lazy);
            yield return new($"extl2-64k-backing-{l}", o(extendedL2: true), true, lazy);
            yield return new($"extl2-16k-{l}", o(16384, extendedL2: true), false, lazy);
            yield return new($"datafile-{l}", o(), false, lazy, "data.bin");
            yield return new($"datafile-raw-{l}", o(), false, lazy, "data.bin", DataFileRaw: true);
            yield return new($"4k-rc32-{l}", o(4096, 32), false, lazy);
            yield return new($"8k-rc4-backing-{l}", o(8192, 4), true, lazy);
            yield return new($"extl2-datafile-{l}", o(extendedL2: true), false, lazy, "data.bin");
            yield return new($"datafile-backing-{l}", o(32768), true, lazy, "data.bin");

            // 16-entry caches: dirty tables and blocks are written back between fsyncs, and the refcount table grows.
            yield return new($"512-rc64-tiny-caches-{l}", o(512, 64), false, lazy, TinyCaches: true);
            yield return new($"4k-rc1-backing-tiny-caches-{l}", o(4096, 1), true, lazy, TinyCaches: true);
        }

        yield return new("v2-64k", o(compat: "0.10"), false, false);
        yield return new("v2-4k-backing", o(4096, compat: "0.10"), true, false);
    }

    [TestCaseSource(nameof(Cases))]
    public void Random_operations_match_the_model_and_leave_a_clean_image(Case c)
    {
        string qemuImg = QemuTools.QemuImg;
        using var dir = new TempDir("diff");
        string image = dir.Combine("image.qcow2");
        // A stable seed per case (string.GetHashCode changes every run); QCOW2MOUNT_DIFF_SEED explores others.
        int seed = int.TryParse(Environment.GetEnvironmentVariable("QCOW2MOUNT_DIFF_SEED"), out int s) ? s : StableHash(c.Name);
        TestContext.Out.WriteLine($"seed {seed}");
        var initial = new byte[DiskSize];
        var create = c.Create with { DataFile = c.DataFile is null ? null : dir.Combine(c.DataFile), DataFileRaw = c.DataFileRaw };
        if (c.Backing)
        {
            new Random(seed ^ 0x5A5A).NextBytes(initial);
            string baseRaw = dir.Combine("base.raw");
            File.WriteAllBytes(baseRaw, initial);
            QemuTools.Ok(qemuImg, "convert", "-f", "raw", "-O", "qcow2", baseRaw, dir.Combine("base.qcow2"));
            create = create with { BackingFile = "base.qcow2", BackingFormat = "qcow2" };
        }

        ImageCreator.Create(image, create);
        var model = new WriteModel(initial, seed) { ClusterSize = c.Create.ClusterSize };
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
                switch (model.NextOperation(20))
                {
                    case < 13:
                        var data = model.NextData(length);
                        disk.WriteAt(offset, data);
                        model.Write(offset, data);
                        break;
                    case < 15:
                        disk.WriteZeroes(offset, length);
                        model.Zero(offset, length);
                        break;
                    case < 17:
                        disk.Discard(offset, length);
                        model.Zero(offset, length);
                        break;
                    case < 19:
                        disk.Flush();
                        break;
                    default:
                        disk.Dispose();
                        disk = Qcow2Image.Open(image, options);
                        break;
                }
            }

            model.AssertMatches(disk, c.Name);
        }
        finally
        {
            disk.Dispose();
        }

        AssertQemuCheckClean(qemuImg, image, dir.Path);
        using (var reopened = Qcow2Image.Open(image))
        {
            model.AssertMatches(reopened, $"{c.Name} after reopen");
        }

        string expectedRaw = dir.Combine("expected.raw");
        File.WriteAllBytes(expectedRaw, model.Bytes);
        var (code, stdout, stderr) = QemuTools.RunIn(dir.Path, qemuImg, "compare", "-f", "qcow2", "-F", "raw", image, expectedRaw);
        Assert.That(code, Is.Zero, $"qemu-img compare: {stdout}{stderr}");
    }

    private static int StableHash(string text)
    {
        int hash = 17;
        foreach (char ch in text)
        {
            hash = unchecked((hash * 31) + ch);
        }

        return hash & 0x7FFFFFFF;
    }

    internal static void AssertQemuCheckClean(string qemuImg, string image, string workingDirectory)
    {
        var (code, stdout, stderr) = QemuTools.RunIn(workingDirectory, qemuImg, "check", "--output=json", image);
        Assert.That(code, Is.Zero, $"qemu-img check exit {code}: {stdout}{stderr}");
        using var json = JsonDocument.Parse(stdout);
        var root = json.RootElement;
        Assert.That(root.TryGetProperty("corruptions", out var corruptions) ? corruptions.GetInt32() : 0, Is.Zero, stdout);
        Assert.That(root.TryGetProperty("leaks", out var leaks) ? leaks.GetInt32() : 0, Is.Zero, stdout);
    }
}
