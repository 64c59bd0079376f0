using Qcow2Mount.Cli.Parsing;
using Qcow2Mount.Operations;

namespace Qcow2Mount.Cli.Tests;

[TestFixture]
internal sealed class BenchTests
{
    private TempDir _dir = null!;

    [OneTimeSetUp]
    public void CreateImages()
    {
        Qemu.RequireInstalled();
        _dir = new TempDir("cli");
        Qemu.ImgIn(_dir.Path, "create", "-q", "-f", "qcow2", "b.qcow2", "4M");
        Qemu.Io(_dir.Path, "b.qcow2", "write -P 1 0 1M", "write -c -P 2 2M 64k");
    }

    [OneTimeTearDown]
    public void DeleteImages() => _dir?.Dispose();

    [TestCase("-c", "2000", "-d", "8", "-s", "4k")]
    [TestCase("-c", "500", "-s", "1.5k", "-S", "1M", "-o", "512")]
    [TestCase("-c", "100", "-S", "0", "-t", "writeback", "-i", "threads")]
    [TestCase("-c", "100", "-t", "none", "-n")]
    public void Prints_the_lines_of_qemu_img_bench(params string[] options)
    {
        var ours = CliRunner.Run(["bench", .. options, _dir.Combine("b.qcow2")]).Succeeded().Output.Split(Environment.NewLine);
        var qemu = Qemu.ImgIn(_dir.Path, ["bench", .. options, "b.qcow2"]).Split('\n');
        if (ours[0].StartsWith("Note:", StringComparison.Ordinal))
        {
            ours = ours[1..];
        }

        Assert.That(ours[0], Is.EqualTo(qemu[0]));
        Assert.That(ours[1], Does.Match(@"^Run completed in \d+\.\d{3} seconds\.$"));
        Assert.That(ours[2], Does.Match(@"^\d+ requests/s, \d+\.\d MB/s$"));
    }

    [Test]
    public void Quiet_keeps_only_qemu_img_lines()
    {
        var lines = CliRunner.Run("bench", "-q", "-c", "10", _dir.Combine("b.qcow2")).Succeeded().Output.TrimEnd().Split(Environment.NewLine);
        Assert.That(lines, Has.Length.EqualTo(2));
    }

    [Test]
    public void Random_offsets_run()
    {
        var result = CliRunner.Run("bench", "--random", "-c", "1000", "-d", "4", _dir.Combine("b.qcow2")).Succeeded();
        Assert.That(result.Output, Does.Contain("random offsets, aligned to 4096"));
    }

    [TestCase("-c", "2000", "-d", "8", "-s", "4k")]
    [TestCase("-c", "60", "-d", "4", "-s", "4k", "-S", "1052672", "--pattern", "7")]
    [TestCase("-c", "200", "-d", "4", "-s", "64k", "--flush-interval", "16")]
    [TestCase("-c", "200", "-d", "7", "-s", "1.5k", "-o", "512", "--flush-interval", "7", "--no-drain")]
    public void Write_test_prints_qemu_img_lines_and_leaves_a_clean_image(params string[] options)
    {
        // 64 MiB: no run wraps around the end, where the installed qemu-img may wrap by the older rule.
        using var dir = new TempDir("cli");
        Qemu.ImgIn(dir.Path, "create", "-q", "-f", "qcow2", "-o", "lazy_refcounts=on", "ours.qcow2", "64M");
        Qemu.ImgIn(dir.Path, "create", "-q", "-f", "qcow2", "-o", "lazy_refcounts=on", "qemu.qcow2", "64M");

        var ours = CliRunner.Run(["bench", "-w", .. options, dir.Combine("ours.qcow2")]).Succeeded().Output.TrimEnd().Split(Environment.NewLine);
        var qemu = Qemu.ImgIn(dir.Path, ["bench", "-w", .. options, "qemu.qcow2"]).TrimEnd().Split('\n');

        // Same announcement lines (the flush line included), then the timing and our rates.
        Assert.That(ours[..^2], Is.EqualTo(qemu[..^1]));
        Assert.That(ours[^2], Does.Match(@"^Run completed in \d+\.\d{3} seconds\.$"));
        Assert.That(ours[^1], Does.Match(@"^\d+ requests/s, \d+\.\d MB/s$"));
        Qemu.ImgIn(dir.Path, "check", "ours.qcow2");
        Assert.That(Qemu.ImgIn(dir.Path, "compare", "ours.qcow2", "qemu.qcow2"), Does.Contain("Images are identical"));
    }

    [Test]
    public void Write_test_overwrites_an_allocated_image()
    {
        using var dir = new TempDir("cli");
        Qemu.ImgIn(dir.Path, "create", "-q", "-f", "qcow2", "-o", "lazy_refcounts=on,preallocation=metadata", "w.qcow2", "4M");
        CliRunner.Run("bench", "-w", "-c", "3000", "-d", "16", "--pattern", "255", dir.Combine("w.qcow2")).Succeeded();
        Qemu.ImgIn(dir.Path, "check", "w.qcow2");
        // Offsets wrap modulo (size - 4 KiB): every block but the last is written.
        Qemu.Io(dir.Path, "w.qcow2", "read -P 255 0 4190208", "read -P 0 4190208 4096");
    }

    [TestCase("-w --flush-interval=-1", 1)]
    [TestCase("-w -d 8 --flush-interval=4", 1)]
    [TestCase("--flush-interval=2", 1)]
    [TestCase("--no-drain", 1)]
    [TestCase("-w --no-drain", 1)]
    [TestCase("-d 0", 1)]
    [TestCase("-s 4x", 1)]
    [TestCase("-t bogus", 1)]
    [TestCase("-i foo", 1)]
    [TestCase("-o 4M", 12)]
    public void Refuses(string option, int exitCode)
    {
        var result = CliRunner.Run(["bench", .. option.Split(' '), _dir.Combine("b.qcow2")]);
        Assert.That(result.ExitCode, Is.EqualTo(exitCode), result.Error);
        Assert.That(result.Error, Does.StartWith("qcow2mount: ").And.Not.Contain(" at "));
    }

    [TestCase("4096", 4096L)]
    [TestCase("4k", 4096L)]
    [TestCase("4K", 4096L)]
    [TestCase("1.5k", 1536L)]
    [TestCase("2M", 2L << 20)]
    [TestCase("1G", 1L << 30)]
    [TestCase("7b", 7L)]
    public void Sizes_parse_like_qemu_img(string text, long expected) =>
        Assert.That(SizeParser.Parse(text, "-s"), Is.EqualTo(expected));

    [TestCase("")]
    [TestCase("-1")]
    [TestCase("1.5")]
    [TestCase("4x")]
    [TestCase("k")]
    [TestCase("99999E")]
    public void Bad_sizes_are_usage_errors(string text) =>
        Assert.That(() => SizeParser.Parse(text, "-s"), Throws.TypeOf<UsageException>());

    [Test]
    public void Sequential_offsets_step_and_wrap_before_the_end()
    {
        // 1 MiB image, 64 KiB requests, 256 KiB step from 128 KiB: wraps modulo (size - buffer size).
        var plan = new BenchPlan(Count: 10, Depth: 1, Offset: 128 << 10, BufferSize: 64 << 10, StepSize: 256 << 10, Random: false);
        long length = 1 << 20, span = length - (64 << 10);
        long[] offsets = [.. Enumerable.Range(0, 6).Select(i => ReadBenchmark.OffsetOf(i, plan, length))];
        Assert.That(offsets, Is.EqualTo(new long[]
        {
            128 << 10, 384 << 10, 640 << 10, 896 << 10, (1152 << 10) % span, (1408 << 10) % span,
        }));
        Assert.That(offsets.Select(o => o + (64 << 10)), Has.All.LessThanOrEqualTo(length));
    }

    [Test]
    public void Random_offsets_are_aligned_and_inside_the_image()
    {
        var plan = new BenchPlan(Count: 1000, Depth: 1, Offset: 0, BufferSize: 4096, StepSize: 4096, Random: true);
        var offsets = Enumerable.Range(0, 1000).Select(i => ReadBenchmark.OffsetOf(i, plan, 1 << 20)).ToList();
        Assert.That(offsets, Has.All.Matches<long>(o => o % 4096 == 0 && o >= 0 && o + 4096 <= 1 << 20));
        Assert.That(offsets.Distinct().Count(), Is.GreaterThan(100));
    }
}
