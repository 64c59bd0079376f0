using System.Security.Cryptography;
using Qcow2Mount.TestSupport;

namespace Qcow2Mount.Service.Tests.Support;

/// <summary>Small test images made with qemu-img and qemu-io at test time, and the reference bytes qemu gives for them.</summary>
internal static class Images
{
    public const long Size = 8L << 20;

    public static ToolResult Qemu(string tool, params string[] arguments) => ExternalTool.Run(tool, arguments).EnsureSuccess();

    /// <summary>A raw disk with noise in a few scattered places and zeros elsewhere (so zero clusters exist too).</summary>
    public static string PatternedRaw(string path, long size = Size, int seed = 1)
    {
        var random = new Random(seed);
        using var file = File.OpenHandle(path, FileMode.CreateNew, FileAccess.ReadWrite);
        RandomAccess.SetLength(file, size);
        var chunk = new byte[100_000];
        for (long offset = 4096 * 3 + 17; offset < size - chunk.Length; offset += size / 7)
        {
            random.NextBytes(chunk);
            // Half the chunk compressible text, half noise, so compression has something to do and still round-trips noise.
            chunk.AsSpan(0, chunk.Length / 2).Fill((byte)'q');
            RandomAccess.Write(file, chunk, offset);
        }

        return path;
    }

    /// <summary>Builds the named kind of image in <paramref name="dir"/>; returns its path.</summary>
    public static string Make(string kind, TempDir dir)
    {
        string name = kind;
        for (int n = 2; File.Exists(dir.Combine(name + ".qcow2")); n++)
        {
            name = $"{kind}-{n}";
        }

        string raw = PatternedRaw(dir.Combine(name + ".source"));
        string image = dir.Combine(name + ".qcow2");
        switch (kind)
        {
            case "plain":
                Qemu("qemu-img", "convert", "-O", "qcow2", raw, image);
                break;
            case "zlib":
                Qemu("qemu-img", "convert", "-c", "-O", "qcow2", "-o", "compression_type=zlib", raw, image);
                break;
            case "zstd":
                Qemu("qemu-img", "convert", "-c", "-O", "qcow2", "-o", "compression_type=zstd", raw, image);
                break;
            case "extended-l2":
                Qemu("qemu-img", "convert", "-O", "qcow2", "-o", "extended_l2=on,cluster_size=64k", raw, image);
                Qemu("qemu-io", "-f", "qcow2", "-c", "write -P 0x5a 4k 4k", "-c", "write -z 1m 8k", image);
                break;
            case "backing-chain":
                // Relative backing names, as qemu-img users write them: resolved against each image's folder.
                string middle = dir.Combine(name + ".middle.qcow2");
                Qemu("qemu-img", "convert", "-O", "qcow2", raw, dir.Combine(name + ".base.qcow2"));
                Qemu("qemu-img", "create", "-f", "qcow2", "-b", name + ".base.qcow2", "-F", "qcow2", middle);
                Qemu("qemu-io", "-f", "qcow2", "-c", "write -P 0x33 1m 64k", middle);
                Qemu("qemu-img", "create", "-f", "qcow2", "-b", name + ".middle.qcow2", "-F", "qcow2", image);
                Qemu("qemu-io", "-f", "qcow2", "-c", "write -P 0x44 3m 100k", "-c", "write -z 1m 4k", image);
                break;
            case "snapshot":
                Qemu("qemu-img", "convert", "-O", "qcow2", raw, image);
                Qemu("qemu-img", "snapshot", "-c", "first", image);
                Qemu("qemu-io", "-f", "qcow2", "-c", "write -P 0x77 0 300k", image);
                Qemu("qemu-img", "snapshot", "-c", "second one", image);
                Qemu("qemu-io", "-f", "qcow2", "-c", "write -P 0x78 5m 64k", image);
                break;
            default:
                throw new ArgumentOutOfRangeException(nameof(kind), kind, "unknown image kind");
        }

        return image;
    }

    /// <summary>The guest bytes as qemu-img reads them (of an internal snapshot when <paramref name="snapshot"/> is set).</summary>
    public static string ConvertToRaw(string image, string output, string? snapshot = null)
    {
        var arguments = new List<string> { "convert", "-O", "raw" };
        if (snapshot is not null)
        {
            arguments.AddRange(["-l", $"snapshot.name={snapshot}"]);
        }

        arguments.AddRange([image, output]);
        ExternalTool.Run("qemu-img", arguments).EnsureSuccess();
        return output;
    }

    public static string Sha256(string path)
    {
        using var stream = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.ReadWrite, bufferSize: 1 << 20);
        return Convert.ToHexString(SHA256.HashData(stream));
    }

    /// <summary>The qcow2 dirty bit (incompatible feature bit 0, header offset 72).</summary>
    public static bool IsDirty(string image)
    {
        using var file = File.OpenHandle(image);
        var features = new byte[8];
        RandomAccess.Read(file, features, 72);
        return (features[7] & 1) != 0;
    }

    public static void AssertCheckClean(string image)
    {
        var check = ExternalTool.Run("qemu-img", ["check", image]);
        Assert.That(check.ExitCode, Is.Zero, $"qemu-img check {image}:\n{check.StandardOutput}{check.StandardError}");
    }

    public static void AssertSameGuest(string image, string expectedRaw)
    {
        var compare = ExternalTool.Run("qemu-img", ["compare", "-F", "raw", image, expectedRaw]);
        Assert.That(compare.ExitCode, Is.Zero, $"qemu-img compare:\n{compare.StandardOutput}{compare.StandardError}");
    }
}
