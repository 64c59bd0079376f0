namespace Qcow2Mount.Cli.Tests;

/// <summary><c>create</c> makes images qemu-img calls clean; <c>check</c> reports and repairs like qemu-img check.</summary>
[TestFixture]
internal sealed class CreateCheckTests
{
    [SetUp]
    public void RequireQemu() => Qemu.RequireInstalled();

    [TestCase("64M")]
    [TestCase("64M", "-o", "compat=0.10")]
    [TestCase("10M", "-o", "cluster_size=4096,refcount_bits=1,lazy_refcounts=on")]
    [TestCase("32M", "-o", "extended_l2=on,compression_type=zstd")]
    public void Created_images_pass_qemu_img_check(params string[] args)
    {
        using var dir = new TempDir("cli");
        CliRunner.Run(["create", dir.Combine("new.qcow2"), .. args]).Succeeded();
        Qemu.ImgIn(dir.Path, "check", dir.Combine("new.qcow2"));
        var ours = CliRunner.Run("check", dir.Combine("new.qcow2"));
        Assert.That(ours.ExitCode, Is.Zero, ours.Output + ours.Error);
        Assert.That(ours.Output, Does.Contain("No errors were found on the image."));
    }

    [Test]
    public void Create_refuses_an_existing_file_and_unknown_options()
    {
        using var dir = new TempDir("cli");
        File.WriteAllText(dir.Combine("taken.qcow2"), "keep me");
        var taken = CliRunner.Run("create", dir.Combine("taken.qcow2"), "1M");
        Assert.That(taken.ExitCode, Is.Not.Zero);
        Assert.That(File.ReadAllText(dir.Combine("taken.qcow2")), Is.EqualTo("keep me"));
        var unknown = CliRunner.Run("create", dir.Combine("x.qcow2"), "1M", "-o", "bogus=1");
        Assert.That(unknown.ExitCode, Is.EqualTo(ExitCodes.Usage));
        Assert.That(unknown.Error.Trim(), Does.Not.Contain('\n'));
    }

    [Test]
    public void Check_reports_leaks_with_exit_code_3_and_repair_leaks_fixes_them()
    {
        using var dir = new TempDir("cli");
        string image = dir.Combine("leaky.qcow2");
        Qemu.ImgIn(dir.Path, "create", "-f", "qcow2", image, "8M");
        Qemu.Io(dir.Path, image, "write -P 0x5a 0 1M");
        byte[] bytes = File.ReadAllBytes(image);

        // Raise the refcount of cluster 0 (the header) from 1 to 2: one leaked reference.
        long refcountTable = (long)System.Buffers.Binary.BinaryPrimitives.ReadUInt64BigEndian(bytes.AsSpan(48));
        long block = (long)System.Buffers.Binary.BinaryPrimitives.ReadUInt64BigEndian(bytes.AsSpan((int)refcountTable));
        bytes[block + 1] = 2;
        File.WriteAllBytes(image, bytes);
        byte[] before = File.ReadAllBytes(image);

        var check = CliRunner.Run("check", "--json", image);
        Assert.That(check.ExitCode, Is.EqualTo(3), check.Output);
        Assert.That(check.Output, Does.Contain("\"leaks\": 1"));
        Assert.That(File.ReadAllBytes(image), Is.EqualTo(before), "check without --repair writes nothing");

        var repair = CliRunner.Run("check", "--repair", "leaks", image);
        Assert.That(repair.ExitCode, Is.Zero, repair.Output);
        Qemu.ImgIn(dir.Path, "check", image);
    }

    [Test]
    public void Check_progress_bar_goes_to_stderr_and_ends_at_100_percent()
    {
        using var dir = new TempDir("cli");
        string image = dir.Combine("big.qcow2");
        Qemu.ImgIn(dir.Path, "create", "-f", "qcow2", "-o", "cluster_size=4096", image, "256M");
        Qemu.Io(dir.Path, image, "write -P 1 0 8M", "write -P 2 200M 8M");
        var result = CliRunner.Run("check", "-p", image);
        Assert.That(result.ExitCode, Is.Zero, result.Error);
        Assert.That(result.Error, Does.Contain("100.0%"));
        Assert.That(result.Output, Does.Contain("No errors were found on the image."));
    }
}
