using System.Buffers.Binary;
using System.Diagnostics;
using System.Globalization;
using NUnit.Framework;
using Qcow2Mount.Qcow2.Check;
using Qcow2Mount.TestSupport;

namespace Qcow2Mount.Qcow2.Tests.Hostile;

/// <summary>
/// Random mutations of small valid images (bit flips and overwrites aimed at the metadata: header, extensions,
/// L1, refcount table and block, L2 tables, snapshot table and snapshot L1s; plus truncations). Whatever the bytes,
/// opening and reading must either work or throw <see cref="Qcow2Exception"/>, quickly and in bounded memory.
/// A failure prints the seed, case number and mutations; rerun one case with QCOW2MOUNT_FUZZ_SEED and
/// QCOW2MOUNT_FUZZ_COUNT (cases are numbered from the seed, so the same seed replays the same sequence).
/// </summary>
[TestFixture]
[NonParallelizable]
internal class MutationFuzzTests
{
    private const int DefaultSeed = 20250611;
    private const int DefaultCount = 3000;
    private const long ReadCap = 64L << 20;
    /// <summary>
    /// What one step may allocate. Bounded is what matters: an unbounded allocation from a hostile size field runs
    /// to gigabytes. The checker's own designed bound is 256 MiB (CheckOptions.MaxTrackedClusters), and under CI's
    /// parallel load this thread's allocation count has twice read 281 and 291 MiB for a repair that allocates 1 MiB
    /// when rerun alone on the same corpus (cause not found), so the limit sits well above both.
    /// </summary>
    private const long AllocationLimit = 512L << 20;
    private static readonly TimeSpan CaseLimit = TimeSpan.FromSeconds(3);
    private const int DefaultWriteCount = 1500;
    private static readonly TimeSpan WriteCaseLimit = TimeSpan.FromSeconds(10);

    /// <summary>Sources: plain with a deflate cluster, zstd, extended L2, snapshots (v3 and v2), compressed + snapshot.</summary>
    private static readonly string[] Sources =
    [
        "hostile/images/src/good.qcow2",
        "hostile/images/src/zstd.qcow2",
        "hostile/images/src/el2.qcow2",
        "hostile/images/src/snap.qcow2",
        "valid/images/snapshots/v2.qcow2",
        "valid/images/compressed/io-zstd.qcow2",
    ];

    [Test]
    public void Mutated_images_open_and_read_or_fail_with_Qcow2Exception()
    {
        Corpus.LoadHostileEntries();
        Corpus.LoadEntries();
        int seed = EnvInt("QCOW2MOUNT_FUZZ_SEED", DefaultSeed);
        int count = EnvInt("QCOW2MOUNT_FUZZ_COUNT", DefaultCount);
        TestContext.Out.WriteLine($"fuzz seed {seed} (QCOW2MOUNT_FUZZ_SEED), {count} cases (QCOW2MOUNT_FUZZ_COUNT)");

        var images = Sources.Select(s => Source.Load(Path.Combine(Corpus.RootDirectory!, s))).ToList();
        using var temp = new TestSupport.TempDir("fuzz");
        string path = temp.Combine("mutant.qcow2");
        var failures = new Dictionary<string, string>(); // one line per distinct failure site
        var outcomes = new Dictionary<string, int>();
        var total = Stopwatch.StartNew();
        for (int i = 0; i < count; i++)
        {
            var random = new Random(HashCode.Combine(seed, i));
            var source = images[i % images.Count];
            var (bytes, description) = source.Mutate(random);
            File.WriteAllBytes(path, bytes);
            string what = $"seed {seed} case {i}: {Path.GetFileName(source.Path)} {description}";

            var run = Task.Run(() => OpenAndReadAll(path));
            if (!run.Wait(CaseLimit))
            {
                Assert.Fail($"{what}: no result within {CaseLimit.TotalSeconds} s (a loop or a huge read?)");
            }

            var (error, allocated) = run.Result;
            string outcome = error is null ? "ok" : error is Qcow2Exception q ? q.Code.ToString() : error.GetType().Name;
            outcomes[outcome] = outcomes.GetValueOrDefault(outcome) + 1;
            if (error is not null and not Qcow2Exception)
            {
                string site = error.GetType().Name + " at " + error.StackTrace?.Split('\n').FirstOrDefault()?.Trim();
                failures.TryAdd(site, $"{what}\n    {error.GetType().Name}: {error.Message}\n    {site}");
            }
            else if (allocated > AllocationLimit)
            {
                failures.TryAdd("allocation " + description, $"{what}: allocated {allocated >> 20} MiB");
            }
        }

        TestContext.Out.WriteLine($"{count} cases in {total.Elapsed.TotalSeconds:0.0} s: " +
            string.Join(", ", outcomes.OrderByDescending(kv => kv.Value).Select(kv => $"{kv.Key} {kv.Value}")));
        Assert.That(failures.Values, Is.Empty, "mutations that crashed the engine (not a Qcow2Exception):\n" + string.Join("\n", failures.Values));
    }

    /// <summary>
    /// The write side of the same mutants: check, repair (all), then a writable open that writes, zeroes, discards,
    /// snapshots and flushes. Each must finish or throw <see cref="Qcow2Exception"/>, in time and bounded memory;
    /// check (read-only) must leave the file's bytes as they were. Replays like the read test
    /// (QCOW2MOUNT_FUZZ_SEED, QCOW2MOUNT_FUZZ_WRITE_COUNT).
    /// </summary>
    [Test]
    public void Mutated_images_check_repair_and_write_or_fail_with_Qcow2Exception()
    {
        Corpus.LoadHostileEntries();
        Corpus.LoadEntries();
        int seed = EnvInt("QCOW2MOUNT_FUZZ_SEED", DefaultSeed);
        int count = EnvInt("QCOW2MOUNT_FUZZ_WRITE_COUNT", DefaultWriteCount);
        TestContext.Out.WriteLine($"fuzz seed {seed} (QCOW2MOUNT_FUZZ_SEED), {count} cases (QCOW2MOUNT_FUZZ_WRITE_COUNT)");

        var images = Sources.Select(s => Source.Load(Path.Combine(Corpus.RootDirectory!, s))).ToList();
        using var temp = new TestSupport.TempDir("fuzz-write");
        var failures = new Dictionary<string, string>();
        var outcomes = new Dictionary<string, int>();
        var total = Stopwatch.StartNew();
        for (int i = 0; i < count; i++)
        {
            var random = new Random(HashCode.Combine(seed, i, "write"));
            var source = images[i % images.Count];
            var (bytes, description) = source.Mutate(random);
            string what = $"seed {seed} case {i}: {Path.GetFileName(source.Path)} {description}";
            int writeSeed = random.Next();

            var run = Task.Run(() => CheckRepairAndWrite(temp, bytes, writeSeed));
            if (!run.Wait(WriteCaseLimit))
            {
                Assert.Fail($"{what}: no result within {WriteCaseLimit.TotalSeconds} s (a loop or a huge write?)");
            }

            var results = run.Result;
            if (results.Any(r => r.Allocated > AllocationLimit))
            {
                // The steps are deterministic on the same bytes, but this thread's allocation count was once inflated
                // under CI's parallel load (281 MiB for a case that allocates under 32 MiB alone, cause not found):
                // measure once more and keep the smaller, so only a real excess fails.
                var again = CheckRepairAndWrite(temp, bytes, writeSeed);
                results = [.. results.Zip(again, (a, b) => a with { Allocated = Math.Min(a.Allocated, b.Allocated) })];
            }

            foreach (var (step, error, allocated) in results)
            {
                string outcome = step + ": " + (error is null ? "ok" : error is Qcow2Exception q ? q.Code.ToString() : error.GetType().Name);
                outcomes[outcome] = outcomes.GetValueOrDefault(outcome) + 1;
                if (error is not null and not Qcow2Exception)
                {
                    string site = step + " " + error.GetType().Name + " at " + error.StackTrace?.Split('\n')
                        .FirstOrDefault(line => line.Contains("Qcow2Mount.Qcow2.", StringComparison.Ordinal) && !line.Contains(".Tests.", StringComparison.Ordinal))?.Trim();
                    failures.TryAdd(site, $"{what}\n    {step}: {error}");
                }
                else if (allocated > AllocationLimit)
                {
                    failures.TryAdd($"{step} allocation {description}", $"{what}: {step} allocated {allocated >> 20} MiB");
                }
            }
        }

        TestContext.Out.WriteLine($"{count} cases in {total.Elapsed.TotalSeconds:0.0} s: " +
            string.Join(", ", outcomes.OrderBy(kv => kv.Key, StringComparer.Ordinal).Select(kv => $"{kv.Key} {kv.Value}")));
        Assert.That(failures.Values, Is.Empty, "mutations that crashed the engine (not a Qcow2Exception):\n" + string.Join("\n", failures.Values));
    }

    private static List<(string Step, Exception? Error, long Allocated)> CheckRepairAndWrite(TestSupport.TempDir temp, byte[] bytes, int seed)
    {
        var steps = new List<(string, Exception?, long)>();
        string path = temp.Combine("mutant.qcow2");
        File.WriteAllBytes(path, bytes);
        steps.Add(Step("check", () =>
        {
            ImageChecker.Check(path);
            if (!File.ReadAllBytes(path).AsSpan().SequenceEqual(bytes))
            {
                throw new InvalidOperationException("check changed the image");
            }
        }));

        File.WriteAllBytes(path, bytes);
        steps.Add(Step("repair", () => ImageChecker.Repair(path, RepairMode.All)));

        File.WriteAllBytes(path, bytes);
        steps.Add(Step("write", () =>
        {
            var random = new Random(seed);
            var options = new Qcow2OpenOptions
            {
                Writable = true, IgnoreBacking = true, Lock = false, FlushToDisk = false,
                L2CacheBytes = 1 << 20, RefcountCacheBytes = 1 << 20, DecompressedCacheBytes = 1 << 20,
            };
            using var image = Qcow2Image.Open(path, options);
            long span = Math.Min(image.Length, ReadCap);
            byte[] data = new byte[random.Next(1, 200_000)];
            random.NextBytes(data);
            for (int n = 0; n < 4 && span > data.Length; n++)
            {
                long at = random.NextInt64(span - data.Length);
                switch (random.Next(4))
                {
                    case 0:
                        image.WriteZeroes(at, data.Length);
                        break;
                    case 1:
                        image.Discard(at, data.Length);
                        break;
                    default:
                        image.WriteAt(at, data);
                        break;
                }
            }

            if (random.Next(4) == 0)
            {
                image.CreateSnapshot("fuzz");
            }

            image.Flush();
        }));
        return steps;
    }

    private static (string Step, Exception? Error, long Allocated) Step(string name, Action action)
    {
        long before = GC.GetAllocatedBytesForCurrentThread();
        try
        {
            action();
            return (name, null, GC.GetAllocatedBytesForCurrentThread() - before);
        }
#pragma warning disable CA1031 // Fuzzing: whatever a mutant makes the engine throw is recorded with its step and judged by the caller.
        catch (Exception e)
        {
            return (name, e, GC.GetAllocatedBytesForCurrentThread() - before);
        }
#pragma warning restore CA1031
    }

    /// <summary>Opens the mutant read-only without its backing file, reads the guest view and up to two snapshots.</summary>
    private static (Exception? Error, long Allocated) OpenAndReadAll(string path)
    {
        long before = GC.GetAllocatedBytesForCurrentThread();
        try
        {
            var options = new Qcow2OpenOptions { IgnoreBacking = true, L2CacheBytes = 1 << 20, DecompressedCacheBytes = 1 << 20 };
            IReadOnlyList<string> snapshots;
            using (var image = Qcow2Image.Open(path, options))
            {
                ReadAll(image);
                snapshots = image.Snapshots.Take(2).Select(s => s.Id).ToList();
            }

            foreach (var id in snapshots)
            {
                using var view = Qcow2Image.Open(path, options with { Snapshot = id });
                ReadAll(view);
            }

            return (null, GC.GetAllocatedBytesForCurrentThread() - before);
        }
#pragma warning disable CA1031 // Fuzzing: whatever a mutant makes the engine throw is recorded and judged by the caller.
        catch (Exception e)
        {
            return (e, GC.GetAllocatedBytesForCurrentThread() - before);
        }
#pragma warning restore CA1031
    }

    [ThreadStatic]
    private static byte[]? t_buffer;

    private static void ReadAll(Qcow2Image disk)
    {
        var buffer = t_buffer ??= new byte[1 << 20];
        long end = Math.Min(disk.Length, ReadCap);
        for (long offset = 0; offset < end; offset += buffer.Length)
        {
            disk.ReadAt(offset, buffer);
        }
    }

    private static int EnvInt(string name, int fallback) =>
        int.TryParse(Environment.GetEnvironmentVariable(name), NumberStyles.Integer, CultureInfo.InvariantCulture, out int value) ? value : fallback;

    /// <summary>A valid image in memory and the byte ranges of its metadata, where mutations are aimed.</summary>
    private sealed class Source
    {
        private static readonly ulong[] Interesting =
        [
            0, 1, 7, 8, 9, 0x1FF, 0x200, 0x7F, 0x80, 0xFF, 0xFFFF, 0x10000, 0x7FFF_FFFF, 0x8000_0000, 0xFFFF_FFFF,
            1UL << 32, 1UL << 40, 1UL << 55, 1UL << 56, 1UL << 62, 1UL << 63, long.MaxValue, ulong.MaxValue,
            ulong.MaxValue << 9, ulong.MaxValue << 16, ulong.MaxValue << 21, // cluster aligned, and overflow when added to
        ];

        private Source(string path, byte[] bytes, List<(int Start, int Length)> regions)
        {
            Path = path;
            Bytes = bytes;
            Regions = regions;
        }

        public string Path { get; }
        public byte[] Bytes { get; }
        public List<(int Start, int Length)> Regions { get; }

        public static Source Load(string path)
        {
            var b = File.ReadAllBytes(path);
            int cluster = 1 << (int)BinaryPrimitives.ReadUInt32BigEndian(b.AsSpan(20));
            var regions = new List<(int, int)>();
            void Add(ulong start, long length)
            {
                if (start < (ulong)b.Length && length > 0)
                {
                    regions.Add(((int)start, (int)Math.Min(length, b.Length - (long)start)));
                }
            }

            uint version = BinaryPrimitives.ReadUInt32BigEndian(b.AsSpan(4));
            int headerLength = version >= 3 ? (int)BinaryPrimitives.ReadUInt32BigEndian(b.AsSpan(100)) : 72;
            Add(0, headerLength);                                    // header fields
            Add((ulong)headerLength, 512);                            // extensions (and the backing name)
            ulong l1 = BinaryPrimitives.ReadUInt64BigEndian(b.AsSpan(40));
            uint l1Size = BinaryPrimitives.ReadUInt32BigEndian(b.AsSpan(36));
            Add(l1, l1Size * 8L);
            ulong refTable = BinaryPrimitives.ReadUInt64BigEndian(b.AsSpan(48));
            Add(refTable, 64);
            Add(BinaryPrimitives.ReadUInt64BigEndian(b.AsSpan((int)refTable)), 256); // first refcount block
            ulong snapshots = BinaryPrimitives.ReadUInt64BigEndian(b.AsSpan(64));
            uint snapshotCount = BinaryPrimitives.ReadUInt32BigEndian(b.AsSpan(60));
            if (snapshotCount > 0)
            {
                Add(snapshots, 256);
                Add(BinaryPrimitives.ReadUInt64BigEndian(b.AsSpan((int)snapshots)) & 0x00FF_FFFF_FFFF_FE00UL, 64); // snapshot L1
            }

            for (int i = 0; i < l1Size; i++)
            {
                ulong l2 = BinaryPrimitives.ReadUInt64BigEndian(b.AsSpan((int)l1 + (i * 8))) & 0x00FF_FFFF_FFFF_FE00UL;
                Add(l2, Math.Min(cluster, 1024)); // the used entries of each L2 table
            }

            return new Source(path, b, regions);
        }

        public (byte[] Bytes, string Description) Mutate(Random random)
        {
            var b = (byte[])Bytes.Clone();
            var what = new List<string>();
            int mutations = random.Next(1, 4);
            for (int m = 0; m < mutations; m++)
            {
                var (start, length) = Regions[random.Next(Regions.Count)];
                int at = start + random.Next(length);
                switch (random.Next(6))
                {
                    case 0:
                    case 1:
                        int bit = random.Next(8);
                        b[at] ^= (byte)(1 << bit);
                        what.Add($"flip bit {bit} at 0x{at:x}");
                        break;
                    case 2:
                        byte value = (byte)random.Next(256);
                        b[at] = value;
                        what.Add($"byte 0x{value:x2} at 0x{at:x}");
                        break;
                    case 3:
                        at &= ~3;
                        uint word = random.Next(2) == 0 ? (uint)Interesting[random.Next(Interesting.Length)] : (uint)random.Next();
                        if (at + 4 <= b.Length)
                        {
                            BinaryPrimitives.WriteUInt32BigEndian(b.AsSpan(at), word);
                            what.Add($"u32 0x{word:x} at 0x{at:x}");
                        }

                        break;
                    default:
                        at &= ~7;
                        ulong big = random.Next(3) switch
                        {
                            0 => Interesting[random.Next(Interesting.Length)],
                            1 => (ulong)random.NextInt64() & 0x00FF_FFFF_FFFF_FE00UL | (random.Next(2) == 0 ? 1UL << 63 : 0),
                            _ => (ulong)random.NextInt64(b.Length) | (ulong)random.Next(4) << 62,
                        };
                        if (at + 8 <= b.Length)
                        {
                            BinaryPrimitives.WriteUInt64BigEndian(b.AsSpan(at), big);
                            what.Add($"u64 0x{big:x} at 0x{at:x}");
                        }

                        break;
                }
            }

            if (random.Next(12) == 0)
            {
                int length = random.Next(b.Length);
                what.Add($"truncate to {length}");
                return (b[..length], string.Join(", ", what));
            }

            return (b, string.Join(", ", what));
        }
    }
}
