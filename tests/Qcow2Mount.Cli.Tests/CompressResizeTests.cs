using System.Text.Json;
using Qcow2Mount.Qcow2;

namespace Qcow2Mount.Cli.Tests;

/// <summary><c>convert -O qcow2 -c</c> and <c>resize</c>, judged by qemu-img check, compare and info.</summary>
[TestFixture]
internal sealed class CompressResizeTests
{
    private TempDir _dir = null!;

    [OneTimeSetUp]
    public void CreateSource()
    {
        Qemu.RequireInstalled();
        _dir = new TempDir("cli");
        // 9 MiB + 1000 bytes (not a multiple of 512): text, random, zero and repeated-block stretches.
        var raw = new byte[(9 << 20) + 1000];
        var random = new Random(7);
        for (int i = 0; i < raw.Length; i += 96 << 10)
        {
            var part = raw.AsSpan(i, Math.Min(96 << 10, raw.Length - i));
            switch (i / (96 << 10) % 4)
            {
                case 0:
                    for (int k = 0; k < part.Length; k++)
                    {
                        part[k] = (byte)"compressible text "[k % 18];
                    }

                    break;
                case 1:
                    random.NextBytes(part);
                    break;
                case 3:
                    random.NextBytes(part[..Math.Min(5000, part.Length)]);
                    break;
            }
        }

        raw[^1] = 0xee;
        File.WriteAllBytes(_dir.Combine("mixed.raw"), raw);
    }

    [OneTimeTearDown]
    public void DeleteImages() => _dir?.Dispose();

    [TestCase("zlib", "4k")]
    [TestCase("zlib", "64k")]
    [TestCase("zlib", "2M")]
    [TestCase("zstd", "4k")]
    [TestCase("zstd", "64k")]
    [TestCase("zstd", "2M")]
    public void Compressed_convert_is_clean_equal_and_reads_back(string type, string clusterSize)
    {
        string output = _dir.Combine($"c-{type}-{clusterSize}.qcow2");
        CliRunner.Run("convert", "-f", "raw", "-O", "qcow2", "-c", "-o", $"compression_type={type},cluster_size={clusterSize}",
            _dir.Combine("mixed.raw"), output).Succeeded();

        using var check = JsonDocument.Parse(Qemu.ImgIn(_dir.Path, "check", "--output=json", output));
        Assert.That(check.RootElement.GetProperty("compressed-clusters").GetInt64(), Is.GreaterThan(0));
        Assert.That(check.RootElement.TryGetProperty("leaks", out _), Is.False);
        Assert.That(check.RootElement.TryGetProperty("corruptions", out _), Is.False);
        Qemu.ImgIn(_dir.Path, "compare", "-f", "raw", "-F", "qcow2", "mixed.raw", output);
        using var info = JsonDocument.Parse(Qemu.ImgIn(_dir.Path, "info", "--output=json", output));
        Assert.That(info.RootElement.GetProperty("format-specific").GetProperty("data").GetProperty("compression-type").GetString(), Is.EqualTo(type));

        // Our reader, through our own convert back to raw.
        CliRunner.Run("convert", output, _dir.Combine("back.raw")).Succeeded();
        var original = File.ReadAllBytes(_dir.Combine("mixed.raw"));
        var back = File.ReadAllBytes(_dir.Combine("back.raw"));
        Assert.That(back.AsSpan(0, original.Length).SequenceEqual(original), Is.True);
        Assert.That(back.AsSpan(original.Length).IndexOfAnyExcept((byte)0), Is.EqualTo(-1));

        // Then overwrite parts of it through the write path: old compressed references must all be freed.
        using (var image = Qcow2Image.Open(output, new Qcow2OpenOptions { Writable = true }))
        {
            image.WriteAt(100, new byte[] { 1, 2, 3 });
            image.WriteAt((3 << 20) - 7000, Enumerable.Repeat((byte)0x99, 20000).ToArray());
            image.WriteZeroes(5 << 20, 1 << 20);
            image.Discard(7 << 20, 300 << 10);
        }

        using var after = JsonDocument.Parse(Qemu.ImgIn(_dir.Path, "check", "--output=json", output));
        Assert.That(after.RootElement.TryGetProperty("leaks", out _), Is.False);
        Assert.That(after.RootElement.TryGetProperty("corruptions", out _), Is.False);
        File.Delete(output);
    }

    [Test]
    public void Compressed_output_is_smaller_than_plain_output()
    {
        CliRunner.Run("convert", "-O", "qcow2", _dir.Combine("mixed.raw"), _dir.Combine("plain.qcow2")).Succeeded();
        CliRunner.Run("convert", "-O", "qcow2", "-c", _dir.Combine("mixed.raw"), _dir.Combine("small.qcow2")).Succeeded();
        Assert.That(new FileInfo(_dir.Combine("small.qcow2")).Length, Is.LessThan(new FileInfo(_dir.Combine("plain.qcow2")).Length * 3 / 4));
        Qemu.ImgIn(_dir.Path, "compare", "plain.qcow2", "small.qcow2");
    }

    [Test]
    public void Compress_without_qcow2_output_is_a_usage_error()
    {
        Assert.That(CliRunner.Run("convert", "-c", _dir.Combine("mixed.raw"), _dir.Combine("x.raw")).ExitCode, Is.EqualTo(1));
        Assert.That(CliRunner.Run("convert", "-O", "qcow2", "-o", "nonsense=1", _dir.Combine("mixed.raw"), _dir.Combine("x.qcow2")).ExitCode, Is.EqualTo(1));
        Assert.That(File.Exists(_dir.Combine("x.qcow2")), Is.False);
    }

    [TestCase("64M", 64L << 20)]
    [TestCase("+300M", (1L << 20) + (300L << 20))]
    [TestCase("5000001", 5000192)]
    public void Resize_grows_like_qemu_img_resize(string size, long expected)
    {
        string image = _dir.Combine("grow.qcow2");
        Qemu.ImgIn(_dir.Path, "create", "-q", "-f", "qcow2", "-o", "cluster_size=512", "grow.qcow2", "1M");
        Qemu.Io(_dir.Path, "grow.qcow2", "write -P 0x3c 0 1M");
        var result = CliRunner.Run("resize", image, size).Succeeded();
        Assert.That(result.Output, Does.Contain("Image resized."));

        Qemu.ImgIn(_dir.Path, "check", "grow.qcow2");
        using var info = JsonDocument.Parse(Qemu.ImgIn(_dir.Path, "info", "--output=json", "grow.qcow2"));
        Assert.That(info.RootElement.GetProperty("virtual-size").GetInt64(), Is.EqualTo(expected));
        Qemu.Io(_dir.Path, "grow.qcow2", "read -P 0x3c 0 1M", $"read -P 0 1M {Math.Min(expected - (1 << 20), 4 << 20)}");
        File.Delete(image);
    }

    [Test]
    public void Resize_refuses_to_shrink()
    {
        Qemu.ImgIn(_dir.Path, "create", "-q", "-f", "qcow2", "shrink.qcow2", "4M");
        var result = CliRunner.Run("resize", _dir.Combine("shrink.qcow2"), "1M");
        Assert.That(result.ExitCode, Is.EqualTo(12), result.Error);
        Assert.That(result.Error, Does.Contain("shrink"));
        using var info = JsonDocument.Parse(Qemu.ImgIn(_dir.Path, "info", "--output=json", "shrink.qcow2"));
        Assert.That(info.RootElement.GetProperty("virtual-size").GetInt64(), Is.EqualTo(4 << 20));
        Assert.That(CliRunner.Run("resize", _dir.Combine("shrink.qcow2"), "lots").ExitCode, Is.EqualTo(1));
    }
}
