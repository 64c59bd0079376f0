using System.Text.Json;

namespace Qcow2Mount.Cli.Tests;

/// <summary>
/// <c>convert -O qcow2</c> (plain and <c>-c</c>) through the parallel pipeline and bulk writes: every output must be
/// clean for qemu-img check, equal for qemu-img compare, keep zero clusters unallocated, and not depend on how many
/// workers prepared the chunks.
/// </summary>
[TestFixture]
internal sealed class Qcow2ConvertTests
{
    private TempDir _dir = null!;
    private byte[] _raw = null!;

    [OneTimeSetUp]
    public void CreateSource()
    {
        Qemu.RequireInstalled();
        _dir = new TempDir("cli");
        // 13 MiB + 1000 bytes: many chunks, the last one short and not a multiple of 512 or of any cluster.
        // 96 KiB stretches of text, random bytes, zeros and mostly-zero blocks; 4..8 MiB, several whole chunks, is zero
        // except for one byte at its very end.
        _raw = new byte[(13 << 20) + 1000];
        var random = new Random(11);
        for (int i = 0; i < _raw.Length; i += 96 << 10)
        {
            var part = _raw.AsSpan(i, Math.Min(96 << 10, _raw.Length - i));
            switch (i / (96 << 10) % 4)
            {
                case 0:
                    for (int k = 0; k < part.Length; k++)
                    {
                        part[k] = (byte)"qcow2 convert pipeline "[(k + i) % 23];
                    }

                    break;
                case 1:
                    random.NextBytes(part);
                    break;
                case 3:
                    random.NextBytes(part[..Math.Min(700, part.Length)]);
                    break;
            }
        }

        _raw.AsSpan(4 << 20, 4 << 20).Clear();
        _raw[(8 << 20) - 1] = 0x5a;
        _raw[^1] = 0xee;
        File.WriteAllBytes(_dir.Combine("source.raw"), _raw);
    }

    [OneTimeTearDown]
    public void DeleteImages() => _dir?.Dispose();

    [TestCase("cluster_size=512")]
    [TestCase("cluster_size=4k")]
    [TestCase("cluster_size=64k,extended_l2=on")]
    [TestCase("cluster_size=2M")]
    [TestCase("cluster_size=2M,extended_l2=on")]
    [TestCase("compat=0.10")]
    [TestCase("cluster_size=4k,refcount_bits=1")]
    public void Plain_output_is_clean_equal_and_sparse(string options) => ConvertAndVerify(options, compress: false);

    [TestCase("cluster_size=512")]
    [TestCase("cluster_size=64k")]
    [TestCase("cluster_size=2M,extended_l2=on")]
    [TestCase("cluster_size=4k,refcount_bits=1")]
    [TestCase("compat=0.10")]
    [TestCase("compression_type=zstd,cluster_size=512")]
    [TestCase("compression_type=zstd,cluster_size=4k")]
    [TestCase("compression_type=zstd,cluster_size=64k,extended_l2=on")]
    [TestCase("compression_type=zstd,cluster_size=2M")]
    public void Compressed_output_is_clean_equal_and_sparse(string options) => ConvertAndVerify(options, compress: true);

    private void ConvertAndVerify(string options, bool compress)
    {
        string output = _dir.Combine("out.qcow2");
        string[] args = ["convert", "-f", "raw", "-O", "qcow2", "-m", "3", "-o", options, _dir.Combine("source.raw"), output];
        CliRunner.Run(compress ? [.. args, "-c"] : args).Succeeded();

        using var check = JsonDocument.Parse(Qemu.ImgIn(_dir.Path, "check", "--output=json", "out.qcow2"));
        var root = check.RootElement;
        Assert.That(root.TryGetProperty("leaks", out _), Is.False, "leaks");
        Assert.That(root.TryGetProperty("corruptions", out _), Is.False, "corruptions");
        Qemu.ImgIn(_dir.Path, "compare", "-f", "raw", "-F", "qcow2", "source.raw", "out.qcow2");

        // Exactly the clusters holding a non-zero byte are allocated; with -c, the compressible ones compressed.
        int clusterSize = ClusterSize(options);
        Assert.That(root.GetProperty("allocated-clusters").GetInt64(), Is.EqualTo(NonZeroClusters(clusterSize)));
        if (compress)
        {
            Assert.That(root.GetProperty("compressed-clusters").GetInt64(), Is.Positive);
        }

        File.Delete(output);
    }

    [TestCase(false)]
    [TestCase(true)]
    public void Output_is_byte_identical_whatever_the_number_of_workers(bool compress)
    {
        // Chunks are prepared out of order but written in guest order: the layout must not depend on scheduling.
        string[] extra = compress ? ["-c", "-o", "compression_type=zstd,cluster_size=4k"] : ["-o", "cluster_size=4k"];
        CliRunner.Run(["convert", "-f", "raw", "-O", "qcow2", "-m", "1", .. extra, _dir.Combine("source.raw"), _dir.Combine("one.qcow2")]).Succeeded();
        CliRunner.Run(["convert", "-f", "raw", "-O", "qcow2", "-m", "7", .. extra, _dir.Combine("source.raw"), _dir.Combine("seven.qcow2")]).Succeeded();
        Assert.That(File.ReadAllBytes(_dir.Combine("seven.qcow2")), Is.EqualTo(File.ReadAllBytes(_dir.Combine("one.qcow2"))));
        Qemu.ImgIn(_dir.Path, "compare", "-f", "raw", "-F", "qcow2", "source.raw", "seven.qcow2");
    }

    [TestCase(false)]
    [TestCase(true)]
    public void Qcow2_source_with_zero_and_compressed_clusters_converts_equal(bool compress)
    {
        // Block status skips the zero and unallocated ranges of a qcow2 source without reading them.
        Qemu.ImgIn(_dir.Path, "convert", "-f", "raw", "-O", "qcow2", "-c", "source.raw", "src.qcow2");
        Qemu.Io(_dir.Path, "src.qcow2", "write -z 1M 3M", "write -z 9M 64k", "write -P 0x42 12M 100k");
        string[] args = ["convert", "-O", "qcow2", _dir.Combine("src.qcow2"), _dir.Combine("from-qcow2.qcow2")];
        CliRunner.Run(compress ? [.. args, "-c"] : args).Succeeded();
        Qemu.ImgIn(_dir.Path, "check", "from-qcow2.qcow2");
        Qemu.ImgIn(_dir.Path, "compare", "src.qcow2", "from-qcow2.qcow2");
    }

    [Test]
    public void Cache_mode_writeback_gives_the_same_image()
    {
        CliRunner.Run("convert", "-f", "raw", "-O", "qcow2", "-t", "writeback", _dir.Combine("source.raw"), _dir.Combine("wb.qcow2")).Succeeded();
        CliRunner.Run("convert", "-f", "raw", "-O", "qcow2", _dir.Combine("source.raw"), _dir.Combine("unsafe.qcow2")).Succeeded();
        Assert.That(File.ReadAllBytes(_dir.Combine("wb.qcow2")), Is.EqualTo(File.ReadAllBytes(_dir.Combine("unsafe.qcow2"))));
        CliRunner.Run("convert", "-f", "raw", "-t", "writeback", _dir.Combine("source.raw"), _dir.Combine("wb.raw")).Succeeded();
        Assert.That(File.ReadAllBytes(_dir.Combine("wb.raw")), Is.EqualTo(_raw));
    }

    [Test]
    public void Unknown_cache_mode_is_a_usage_error()
    {
        var result = CliRunner.Run("convert", "-f", "raw", "-O", "qcow2", "-t", "sometimes", _dir.Combine("source.raw"), _dir.Combine("bad.qcow2"));
        Assert.That(result.ExitCode, Is.EqualTo(1));
        Assert.That(File.Exists(_dir.Combine("bad.qcow2")), Is.False);
    }

    private static int ClusterSize(string options)
    {
        foreach (string option in options.Split(','))
        {
            if (option.StartsWith("cluster_size=", StringComparison.Ordinal))
            {
                string value = option["cluster_size=".Length..];
                return value[^1] switch
                {
                    'k' => int.Parse(value[..^1]) << 10,
                    'M' => int.Parse(value[..^1]) << 20,
                    _ => int.Parse(value),
                };
            }
        }

        return 64 << 10;
    }

    private long NonZeroClusters(int clusterSize)
    {
        long count = 0;
        for (long offset = 0; offset < _raw.Length; offset += clusterSize)
        {
            var cluster = _raw.AsSpan((int)offset, (int)Math.Min(clusterSize, _raw.Length - offset));
            count += cluster.ContainsAnyExcept((byte)0) ? 1 : 0;
        }

        return count;
    }
}
