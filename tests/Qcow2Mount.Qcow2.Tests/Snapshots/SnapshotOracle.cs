using NUnit.Framework;
using Qcow2Mount.Qcow2.Check;

namespace Qcow2Mount.Qcow2.Tests.Snapshots;

/// <summary>One image layout the snapshot tests run against: qemu-img create options, or a compressed convert.</summary>
internal sealed record SnapshotFormat(string Name, int ClusterSize, string[] CreateOptions, bool Compressed = false)
{
    public override string ToString() => Name;

    public static IEnumerable<SnapshotFormat> All()
    {
        yield return new("v3-64k", 65536, ["-o", "compat=1.1"]);
        yield return new("v2-64k", 65536, ["-o", "compat=0.10"]);
        yield return new("v2-4k", 4096, ["-o", "compat=0.10,cluster_size=4096"]);
        yield return new("rc4-1k", 1024, ["-o", "refcount_bits=4,cluster_size=1024"]);
        yield return new("rc64-512", 512, ["-o", "refcount_bits=64,cluster_size=512"]);
        yield return new("extl2-64k", 65536, ["-o", "extended_l2=on"]);
        yield return new("extl2-16k", 16384, ["-o", "extended_l2=on,cluster_size=16384"]);
        yield return new("compressed-64k", 65536, [], Compressed: true);
        yield return new("compressed-4k-v2", 4096, ["-o", "compat=0.10,cluster_size=4096"], Compressed: true);
    }
}

/// <summary>qemu-img as the oracle for snapshot tests: building images, reading snapshot views, checking.</summary>
internal static class SnapshotOracle
{
    public const long DiskSize = 4L << 20;

    /// <summary>
    /// Creates an image in <paramref name="format"/> and returns its guest view (random data from <paramref name="seed"/>,
    /// with holes); compressed formats go through <c>qemu-img convert -c</c> so the clusters are compressed.
    /// </summary>
    public static byte[] CreateImage(string dir, string image, SnapshotFormat format, int seed)
    {
        var content = new byte[DiskSize];
        var random = new Random(seed);
        // Every third 64 KiB run is a hole; the rest is compressible text-like data.
        for (int run = 0; run < DiskSize / 65536; run++)
        {
            if (run % 3 == 2)
            {
                continue;
            }

            for (int i = 0; i < 65536; i++)
            {
                content[(run * 65536) + i] = (byte)('a' + random.Next(4));
            }
        }

        string raw = Path.Combine(dir, "content.raw");
        File.WriteAllBytes(raw, content);
        var args = new List<string> { "convert", "-f", "raw", "-O", "qcow2" };
        if (format.Compressed)
        {
            args.Add("-c");
        }

        args.AddRange(format.CreateOptions);
        args.AddRange([raw, image]);
        QemuTools.Ok(QemuTools.QemuImg, [.. args]);
        File.Delete(raw);
        return content;
    }

    /// <summary>A snapshot's guest view as qemu-img reads it.</summary>
    public static byte[] QemuSnapshotView(string image, string dir, string name)
    {
        string raw = Path.Combine(dir, Guid.NewGuid().ToString("N") + ".raw");
        QemuTools.Ok(QemuTools.QemuImg, "convert", "-f", "qcow2", "-l", $"snapshot.name={name}", "-O", "raw", image, raw);
        var bytes = File.ReadAllBytes(raw);
        File.Delete(raw);
        return bytes;
    }

    /// <summary>A snapshot's guest view as our engine reads it (null name: the active layer).</summary>
    public static byte[] OurView(string image, string? snapshot = null)
    {
        using var disk = Qcow2Image.Open(image, new Qcow2OpenOptions { Snapshot = snapshot });
        var bytes = new byte[disk.Length];
        Assert.That(disk.ReadAt(0, bytes), Is.EqualTo(bytes.Length));
        return bytes;
    }

    /// <summary>qemu-img check finds neither corruption nor leaks, and our checker agrees.</summary>
    public static void AssertClean(string image, string context)
    {
        var check = QemuTools.Check(image);
        Assert.That((check.ExitCode, check.Corruptions, check.Leaks, check.CheckErrors), Is.EqualTo((0, 0, 0, 0)),
            $"{context}: qemu-img check: {check}");
        var ours = ImageChecker.Check(image);
        Assert.That((ours.Corruptions, ours.Leaks, ours.CheckErrors), Is.EqualTo((0, 0, 0)), $"{context}: our check");
    }

    /// <summary>The names qemu-img snapshot -l lists, in order.</summary>
    public static List<string> QemuSnapshotNames(string image)
    {
        var info = QemuTools.Info(image);
        return info.TryGetProperty("snapshots", out var list)
            ? list.EnumerateArray().Select(s => s.GetProperty("name").GetString()!).ToList()
            : [];
    }

    public static void AssertBytes(byte[] actual, byte[] expected, string context)
    {
        Assert.That(actual.Length, Is.EqualTo(expected.Length), $"{context}: length");
        if (!actual.AsSpan().SequenceEqual(expected))
        {
            int at = actual.AsSpan().CommonPrefixLength(expected);
            Assert.Fail($"{context}: byte 0x{at:x} is {actual[at]:x2}, expected {expected[at]:x2}");
        }
    }

    /// <summary>Writes random data at a few places (unaligned, cluster-crossing, past the holes) through our engine.</summary>
    public static void ScribbleWithUs(Qcow2Image disk, byte[] model, int seed)
    {
        var random = new Random(seed);
        for (int i = 0; i < 12; i++)
        {
            int length = random.Next(1, 3 * 65536);
            long offset = random.NextInt64(DiskSize - length);
            var data = new byte[length];
            random.NextBytes(data);
            disk.WriteAt(offset, data);
            data.CopyTo(model.AsSpan((int)offset));
        }
    }

    /// <summary>Writes a pattern with qemu-io and applies it to the model.</summary>
    public static void ScribbleWithQemu(string image, byte[] model, byte pattern, long offset, int length)
    {
        QemuTools.QemuIoWrite(image, $"write -P {pattern} {offset} {length}");
        model.AsSpan((int)offset, length).Fill(pattern);
    }
}
