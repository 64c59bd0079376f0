using Qcow2Mount.Qcow2;

namespace Qcow2Mount.Cli.Tests;

/// <summary>
/// Commands that read an image hold it as qemu-img does without -U: an image a running VM (qemu-io here) or one of our
/// writers has open for writing is refused with a one-line error instead of read half-updated; -U reads it anyway.
/// </summary>
[TestFixture]
internal sealed class ReaderLockTests
{
    private TempDir _dir = null!;

    [SetUp]
    public void CreateImage()
    {
        Qemu.RequireInstalled();
        _dir = new TempDir("cli-locks");
        Qemu.ImgIn(_dir.Path, "create", "-q", "-f", "qcow2", "live.qcow2", "4M");
        Qemu.Io(_dir.Path, "live.qcow2", "write -P 0x5a 0 64k");
        Qemu.ImgIn(_dir.Path, "snapshot", "-c", "first", "live.qcow2");
    }

    [TearDown]
    public void DeleteImage() => _dir?.Dispose();

    private string Image => _dir.Combine("live.qcow2");

    private static IEnumerable<TestCaseData> Readers()
    {
        yield return new TestCaseData((object)new[] { "info" }).SetName("info");
        yield return new TestCaseData((object)new[] { "info", "--backing-chain", "--json" }).SetName("info --backing-chain");
        yield return new TestCaseData((object)new[] { "convert", "-O", "raw", "{image}", "{dir}/out.raw" }).SetName("convert to raw");
        yield return new TestCaseData((object)new[] { "convert", "-O", "qcow2", "{image}", "{dir}/out.qcow2" }).SetName("convert to qcow2");
        yield return new TestCaseData((object)new[] { "check" }).SetName("check");
        yield return new TestCaseData((object)new[] { "snapshot", "list" }).SetName("snapshot list");
        yield return new TestCaseData((object)new[] { "bench", "-c", "100" }).SetName("bench");
        yield return new TestCaseData((object)new[] { "hash" }).SetName("hash");
    }

    private string[] Arguments(string[] command, bool forceShare)
    {
        var args = command.Select(a => a.Replace("{image}", Image).Replace("{dir}", _dir.Path)).ToList();
        if (!command.Contains("{image}"))
        {
            args.Add(Image);
        }

        if (forceShare)
        {
            args.Insert(command[0] == "snapshot" ? 2 : 1, "-U");
        }

        return [.. args];
    }

    [TestCaseSource(nameof(Readers))]
    public void An_image_QEMU_is_writing_is_refused_unless_forced(string[] command)
    {
        using var vm = QemuWriter.Hold(Image);

        var refused = CliRunner.Run(Arguments(command, forceShare: false));
        bool destinationCreated = File.Exists(_dir.Combine("out.raw")) || File.Exists(_dir.Combine("out.qcow2"));
        var forced = CliRunner.Run(Arguments(command, forceShare: true));

        Assert.Multiple(() =>
        {
            Assert.That(refused.ExitCode, Is.EqualTo(10), refused.Error);
            Assert.That(refused.Error.Trim(), Does.StartWith($"qcow2mount: {Image}: image is in use by another program").And.Contain("-U"));
            Assert.That(refused.Error.Trim().Split('\n'), Has.Length.EqualTo(1));
            Assert.That(refused.Output, Is.Empty);
            Assert.That(destinationCreated, Is.False, "a refused convert creates no destination");
            Assert.That(forced.ExitCode, Is.Zero, forced.Error);
        });
    }

    [TestCaseSource(nameof(Readers))]
    public void An_image_our_writer_has_open_is_refused_unless_forced(string[] command)
    {
        using var writer = Qcow2Image.Open(Image, new Qcow2OpenOptions { Writable = true });

        var refused = CliRunner.Run(Arguments(command, forceShare: false));
        var forced = CliRunner.Run(Arguments(command, forceShare: true));

        Assert.Multiple(() =>
        {
            Assert.That(refused.ExitCode, Is.EqualTo(10), refused.Error);
            Assert.That(refused.Error, Does.Contain("image is being written by qcow2mount"));
            Assert.That(forced.ExitCode, Is.Zero, forced.Error);
        });
    }

    /// <summary>While QEMU only reads the image (qemu-img without -U elsewhere, a read-only VM disk), every reader works.</summary>
    [TestCaseSource(nameof(Readers))]
    public void Readers_share_the_image_with_a_QEMU_reader(string[] command)
    {
        using var reader = Qcow2Image.Open(Image, new Qcow2OpenOptions { HoldReaderLock = true });

        var result = CliRunner.Run(Arguments(command, forceShare: false));

        Assert.That(result.ExitCode, Is.Zero, result.Error);
    }

    [Test]
    public void Check_refuses_force_share_with_repair()
    {
        var result = CliRunner.Run("check", "-U", "--repair", "leaks", Image);

        Assert.Multiple(() =>
        {
            Assert.That(result.ExitCode, Is.EqualTo(1));
            Assert.That(result.Error, Does.Contain("--repair"));
        });
    }
}
