namespace Qcow2Mount.Cli.Tests;

/// <summary>Every failure: one line on stderr starting "qcow2mount: ", a distinct exit code, no stack trace.</summary>
[TestFixture]
internal sealed class ErrorTests
{
    private TempDir _dir = null!;

    [OneTimeSetUp]
    public void CreateFiles()
    {
        _dir = new TempDir("cli");
        File.WriteAllText(_dir.Combine("text.txt"), "this is not a disk image\n");
    }

    [OneTimeTearDown]
    public void DeleteFiles() => _dir?.Dispose();

    private static IEnumerable<TestCaseData> Failures()
    {
        yield return new TestCaseData(new[] { "info", "missing.qcow2" }, 7).SetName("missing file");
        yield return new TestCaseData(new[] { "convert", "missing.qcow2", "out.raw" }, 7).SetName("missing source");
        yield return new TestCaseData(new[] { "bench", "missing.qcow2" }, 7).SetName("missing bench image");
        yield return new TestCaseData(new[] { "info", "-f", "qcow2", "text.txt" }, 3).SetName("not qcow2 (info -f qcow2)");
        yield return new TestCaseData(new[] { "snapshot", "list", "text.txt" }, 3).SetName("not qcow2 (snapshot list)");
        yield return new TestCaseData(new[] { "info", "--snapshot", "x", "text.txt" }, 12).SetName("snapshot of a raw file");
        yield return new TestCaseData(new[] { "info" }, 1).SetName("missing argument");
        yield return new TestCaseData(new[] { "info", "--frobnicate", "text.txt" }, 1).SetName("unknown option");
        yield return new TestCaseData(new[] { "frobnicate" }, 1).SetName("unknown command");
        yield return new TestCaseData(new[] { "info", "-f", "vmdk", "text.txt" }, 1).SetName("unknown format");
        yield return new TestCaseData(new[] { "create", "new.qcow2", "1M", "-o", "refcount_bits=abc" }, 1).SetName("refcount_bits not a number");
        yield return new TestCaseData(new[] { "convert", "-O", "qcow2", "-o", "refcount_bits=x", "text.txt", "out.qcow2" }, 1).SetName("convert refcount_bits not a number");
        yield return new TestCaseData(new[] { "bench", "-w", "--pattern", "300", "missing.qcow2" }, 1).SetName("bench pattern out of range");
        yield return new TestCaseData(new[] { "snapshot", "create", "text.txt", "" }, 1).SetName("empty snapshot name");
        yield return new TestCaseData(new[] { "create", "orphan.qcow2", "-b", "gone.qcow2", "-F", "qcow2" }, 7).SetName("create over a missing backing file");
        yield return new TestCaseData(new[] { "info", "." }, 12).SetName("a directory as the image");
        yield return new TestCaseData(new[] { "create", "b.qcow2", "1M", "-b", "text.txt", "-F", "vmdk" }, 1).SetName("backing format it cannot read");
        yield return new TestCaseData(new[] { "convert", "text.txt", "." }, 1).SetName("convert onto a directory");
    }

    /// <summary>A mount the service refuses exits with the code the same condition has in the other commands.</summary>
    [TestCase("not_qcow2", 3)]
    [TestCase("invalid_image", 6)]
    [TestCase("missing_file", 7)]
    [TestCase("backing_chain", 8)]
    [TestCase("read_only", 9)]
    [TestCase("locked", 10)]
    [TestCase("snapshot_not_found", 11)]
    [TestCase("unsupported", 5)]
    [TestCase("io_error", 2)]
    [TestCase("invalid_argument", 1)]
    [TestCase("busy", 13)]
    [TestCase("not_found", 13)]
    [TestCase("service_unavailable", 13)]
    public void Service_errors_keep_the_exit_code_of_their_condition(string code, int exitCode) =>
        Assert.That(ExitCodes.ForService(code), Is.EqualTo(exitCode));

    [TestCaseSource(nameof(Failures))]
    public void Fails_with_one_line_and_its_exit_code(string[] args, int exitCode)
    {
        var result = CliRunner.RunIn(_dir.Path, args);
        Assert.That(result.ExitCode, Is.EqualTo(exitCode), result.Error);
        Assert.That(result.Error, Does.StartWith("qcow2mount: "));
        Assert.That(result.Error.TrimEnd().Split('\n'), Has.Length.EqualTo(1), result.Error);
        Assert.That(result.Output, Is.Empty);
    }

    [Test]
    public void Unknown_snapshot_has_its_own_exit_code()
    {
        Qemu.RequireInstalled();
        Qemu.ImgIn(_dir.Path, "create", "-q", "-f", "qcow2", "nosnap.qcow2", "1M");
        var result = CliRunner.Run("convert", "-l", "ghost", _dir.Combine("nosnap.qcow2"), _dir.Combine("ghost.raw"));
        Assert.That(result.ExitCode, Is.EqualTo(11));
        Assert.That(result.Error.TrimEnd().Split('\n'), Has.Length.EqualTo(1));
        Assert.That(result.Error, Does.Contain("ghost"));
    }

    [Test]
    public void Verbose_adds_the_stack_trace()
    {
        var result = CliRunner.RunIn(_dir.Path, "--verbose", "info", "missing.qcow2");
        Assert.That(result.ExitCode, Is.EqualTo(7));
        Assert.That(result.Error, Does.StartWith("qcow2mount: ").And.Contain("   at "));
    }

    [Test]
    public void Help_lists_the_exit_codes()
    {
        var result = CliRunner.Run("--help").Succeeded();
        Assert.That(result.Output, Does.Contain("Exit codes:").And.Contain("11  snapshot not found"));
    }
}
