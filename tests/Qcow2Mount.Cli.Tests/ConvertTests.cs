using Qcow2Mount.Operations;

namespace Qcow2Mount.Cli.Tests;

/// <summary><c>convert -O raw</c> must write exactly what qemu-img convert writes, and no more blocks.</summary>
[TestFixture]
internal sealed class ConvertTests
{
    private TempDir _dir = null!;

    [OneTimeSetUp]
    public void CreateImages()
    {
        Qemu.RequireInstalled();
        _dir = new TempDir("cli");
        string d = _dir.Path;

        // Odd size (not a multiple of the 4 MiB chunk or the cluster) with data, explicit zeros, compressed
        // clusters and holes, some of it spanning chunk boundaries.
        string[] writes =
        [
            "write -P 0x11 0 1M", "write -c -P 0x22 2M 64k", "write -z 3M 1M", "write -P 0x33 4095k 2M",
            "write -P 0 8M 64k", "write -P 0x44 9M 512", "write -c -P 0x55 10M 128k",
        ];
        Qemu.ImgIn(d, "create", "-q", "-f", "qcow2", "plain.qcow2", "13377k");
        Qemu.Io(d, "plain.qcow2", writes);
        Qemu.ImgIn(d, "snapshot", "-c", "before", "plain.qcow2");
        Qemu.Io(d, "plain.qcow2", "write -P 0x66 0 64k");

        Qemu.ImgIn(d, "create", "-q", "-f", "qcow2", "-o", "compression_type=zstd,extended_l2=on", "zstd.qcow2", "13377k");
        Qemu.Io(d, "zstd.qcow2", writes);

        Qemu.ImgIn(d, "create", "-q", "-f", "qcow2", "-b", "plain.qcow2", "-F", "qcow2", "overlay.qcow2");
        Qemu.Io(d, "overlay.qcow2", "write -P 0x77 1M 1M", "write -z 2M 64k");
    }

    [OneTimeTearDown]
    public void DeleteImages() => _dir?.Dispose();

    [TestCase("plain.qcow2")]
    [TestCase("zstd.qcow2")]
    [TestCase("overlay.qcow2")]
    public void Output_is_identical_to_qemu_img_and_as_sparse(string image)
    {
        string ours = _dir.Combine(image + ".ours.raw"), theirs = _dir.Combine(image + ".qemu.raw");
        Qemu.ImgIn(_dir.Path, "convert", "-O", "raw", image, theirs);
        CliRunner.Run("convert", _dir.Combine(image), ours, "-O", "raw").Succeeded();

        Assert.That(File.ReadAllBytes(ours), Is.EqualTo(File.ReadAllBytes(theirs)));
        // Same data ranges as qemu-img's output; st_blocks may differ by an extent-tree block or two, because
        // parallel writers land the same ranges in a different physical order.
        const long filesystemSlack = 16 << 10;
        Assert.That(AllocatedSize.Of(ours), Is.LessThanOrEqualTo(AllocatedSize.Of(theirs) + filesystemSlack), "less sparse than qemu-img's output");
        Assert.That(AllocatedSize.Of(ours), Is.LessThan(new FileInfo(ours).Length), "not sparse at all");
    }

    [Test]
    public void Snapshot_is_converted_instead_of_the_active_layer()
    {
        string ours = _dir.Combine("snap.ours.raw"), theirs = _dir.Combine("snap.qemu.raw");
        Qemu.ImgIn(_dir.Path, "convert", "-l", "before", "-O", "raw", "plain.qcow2", theirs);
        CliRunner.Run("convert", "--snapshot", "before", _dir.Combine("plain.qcow2"), ours).Succeeded();
        Assert.That(File.ReadAllBytes(ours), Is.EqualTo(File.ReadAllBytes(theirs)));
    }

    [Test]
    public void One_worker_gives_the_same_bytes()
    {
        string many = _dir.Combine("m8.raw"), one = _dir.Combine("m1.raw");
        CliRunner.Run("convert", "-m", "8", _dir.Combine("zstd.qcow2"), many).Succeeded();
        CliRunner.Run("convert", "-m", "1", _dir.Combine("zstd.qcow2"), one).Succeeded();
        Assert.That(File.ReadAllBytes(one), Is.EqualTo(File.ReadAllBytes(many)));
    }

    [Test]
    public void Progress_bar_is_drawn_on_stderr_when_forced()
    {
        var result = CliRunner.Run("convert", "-p", _dir.Combine("plain.qcow2"), _dir.Combine("p.raw")).Succeeded();
        Assert.That(result.Error, Does.Contain("100.0%"));
        Assert.That(result.Output, Is.Empty);
    }

    [Test]
    public void No_progress_bar_when_not_asked_and_not_a_terminal()
    {
        var result = CliRunner.Run("convert", _dir.Combine("plain.qcow2"), _dir.Combine("np.raw")).Succeeded();
        Assert.That(result.Error, Is.Empty);
    }

    [TestCase("plain.qcow2")]
    [TestCase("zstd.qcow2")]
    [TestCase("overlay.qcow2")]
    public void Qcow2_output_passes_check_and_compares_equal(string source)
    {
        CliRunner.Run("convert", "-O", "qcow2", _dir.Combine(source), _dir.Combine("out.qcow2")).Succeeded();
        Qemu.ImgIn(_dir.Path, "check", "out.qcow2");
        Qemu.ImgIn(_dir.Path, "compare", source, "out.qcow2");
        File.Delete(_dir.Combine("out.qcow2"));
    }

    [Test]
    public void Unknown_output_format_is_a_usage_error()
    {
        var result = CliRunner.Run("convert", "-O", "vmdk", _dir.Combine("plain.qcow2"), _dir.Combine("out.vmdk"));
        Assert.That(result.ExitCode, Is.EqualTo(1));
    }

    [Test]
    public void Unknown_snapshot_leaves_an_existing_destination_alone()
    {
        File.WriteAllText(_dir.Combine("keep.raw"), "keep me");
        var result = CliRunner.Run("convert", "--snapshot", "nope", _dir.Combine("plain.qcow2"), _dir.Combine("keep.raw"));
        Assert.That(result.ExitCode, Is.EqualTo(11));
        Assert.That(File.ReadAllText(_dir.Combine("keep.raw")), Is.EqualTo("keep me"));
    }

    [Test]
    public void Converting_onto_the_source_is_refused()
    {
        var result = CliRunner.Run("convert", _dir.Combine("plain.qcow2"), _dir.Combine("plain.qcow2"));
        Assert.That(result.ExitCode, Is.EqualTo(1));
        Assert.That(new FileInfo(_dir.Combine("plain.qcow2")).Length, Is.GreaterThan(0));
    }
}
