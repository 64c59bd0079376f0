using System.Diagnostics;
using System.Security.Cryptography;

namespace Qcow2Mount.Cli.Tests;

/// <summary>
/// convert and create --force replace a file only after making sure it may go: never the source under another
/// name, a file of the source's backing chain, a pipe, or an image QEMU has open; and a refused destination is
/// left exactly as it was (it used to be truncated or deleted).
/// </summary>
[TestFixture]
[NonParallelizable]
internal sealed class DestinationSafetyTests
{
    private TempDir _dir = null!;

    [SetUp]
    public void CreateImages()
    {
        Qemu.RequireInstalled();
        _dir = new TempDir("dest");
        Qemu.ImgIn(_dir.Path, "create", "-q", "-f", "qcow2", "base.qcow2", "4M");
        Qemu.Io(_dir.Path, "base.qcow2", "write -P 0x11 0 1M");
        Qemu.ImgIn(_dir.Path, "create", "-q", "-f", "qcow2", "-b", "base.qcow2", "-F", "qcow2", "top.qcow2");
        Qemu.Io(_dir.Path, "top.qcow2", "write -P 0x22 1M 1M");
    }

    [TearDown]
    public void DeleteImages() => _dir?.Dispose();

    [TestCase("symlink")]
    [TestCase("hardlink")]
    public void Convert_refuses_the_source_under_another_name(string kind)
    {
        string source = _dir.Combine("top.qcow2"), alias = _dir.Combine("alias.qcow2");
        if (kind == "symlink")
        {
            File.CreateSymbolicLink(alias, source);
        }
        else
        {
            ExternalTool.Run("ln", [source, alias]).EnsureSuccess();
        }

        string before = Hash(source);
        var result = CliRunner.Run("convert", "-O", "qcow2", source, alias);

        Assert.Multiple(() =>
        {
            Assert.That(result.ExitCode, Is.EqualTo(1), result.Error);
            Assert.That(result.Error, Does.Contain("same file"));
            Assert.That(Hash(source), Is.EqualTo(before), "the source is untouched");
        });
    }

    [TestCase("raw")]
    [TestCase("qcow2")]
    public void Convert_refuses_a_file_of_the_sources_backing_chain(string format)
    {
        string backing = _dir.Combine("base.qcow2");
        string before = Hash(backing);
        var result = CliRunner.Run("convert", "-O", format, _dir.Combine("top.qcow2"), backing);

        Assert.Multiple(() =>
        {
            Assert.That(result.ExitCode, Is.EqualTo(1), result.Error);
            Assert.That(result.Error, Does.Contain("same file"));
            Assert.That(Hash(backing), Is.EqualTo(before), "the backing file is untouched");
        });
    }

    [Test]
    public void Convert_refuses_a_pipe_and_leaves_it_in_place()
    {
        string fifo = _dir.Combine("out.fifo");
        ExternalTool.Run("mkfifo", [fifo]).EnsureSuccess();
        var result = CliRunner.Run("convert", _dir.Combine("top.qcow2"), fifo);

        Assert.Multiple(() =>
        {
            Assert.That(result.ExitCode, Is.EqualTo(1), result.Error);
            Assert.That(result.Error, Does.Contain("not a regular file"));
            Assert.That(File.Exists(fifo), Is.True, "the pipe is still there");
        });
    }

    [TestCase("convert")]
    [TestCase("create")]
    public void An_image_qemu_has_open_is_neither_replaced_nor_deleted(string command)
    {
        string busy = _dir.Combine("busy.qcow2");
        Qemu.ImgIn(_dir.Path, "create", "-q", "-f", "qcow2", "busy.qcow2", "1M");
        string before = Hash(busy);
        using var holder = HoldOpen(busy);

        var result = command == "convert"
            ? CliRunner.Run("convert", "-O", "qcow2", _dir.Combine("top.qcow2"), busy)
            : CliRunner.Run("create", busy, "2M", "--force");

        Assert.Multiple(() =>
        {
            Assert.That(result.ExitCode, Is.EqualTo(10), result.Error);
            Assert.That(File.Exists(busy) && Hash(busy) == before, Is.True, "the image QEMU holds is untouched");
        });
    }

    [Test]
    public void Create_force_refuses_to_replace_its_own_backing_file()
    {
        string image = _dir.Combine("base.qcow2");
        string before = Hash(image);
        var result = CliRunner.Run("create", image, "-b", "base.qcow2", "-F", "qcow2", "--force");

        Assert.Multiple(() =>
        {
            Assert.That(result.ExitCode, Is.EqualTo(1), result.Error);
            Assert.That(Hash(image), Is.EqualTo(before));
        });
    }

    [Test]
    public void Create_refuses_a_backing_format_it_cannot_read()
    {
        var result = CliRunner.Run("create", _dir.Combine("new.qcow2"), "-b", "base.qcow2", "-F", "vmdk");
        Assert.Multiple(() =>
        {
            Assert.That(result.ExitCode, Is.EqualTo(1), result.Error);
            Assert.That(File.Exists(_dir.Combine("new.qcow2")), Is.False);
        });
    }

    [TestCase("cluster_size=1000")]
    [TestCase("compat=0.10,lazy_refcounts=on")]
    public void Options_only_the_layout_refuses_leave_an_existing_destination_alone(string createOptions)
    {
        string target = _dir.Combine("old.qcow2");
        File.WriteAllText(target, "old contents");
        var result = CliRunner.Run("convert", "-O", "qcow2", "-o", createOptions, _dir.Combine("top.qcow2"), target);
        Assert.Multiple(() =>
        {
            Assert.That(result.ExitCode, Is.Not.Zero);
            Assert.That(File.Exists(target) && File.ReadAllText(target) == "old contents", Is.True, "the old file is untouched");
        });
    }

    [Test]
    public void Convert_still_replaces_an_ordinary_existing_file()
    {
        string target = _dir.Combine("old.raw");
        File.WriteAllText(target, "old contents");
        CliRunner.Run("convert", _dir.Combine("top.qcow2"), target).Succeeded();
        Assert.That(new FileInfo(target).Length, Is.EqualTo(4L << 20));
    }

    private static string Hash(string path) => Convert.ToHexString(SHA256.HashData(File.ReadAllBytes(path)));

    /// <summary>qemu-io holding the image open for writing (QEMU's locks) until disposed.</summary>
    private static Holder HoldOpen(string image)
    {
        var info = new ProcessStartInfo("qemu-io") { RedirectStandardOutput = true, RedirectStandardError = true, RedirectStandardInput = true };
        foreach (string arg in new[] { "-f", "qcow2", "-c", "sleep 120000", image })
        {
            info.ArgumentList.Add(arg);
        }

        var process = Process.Start(info)!;
        // Watch /proc/locks rather than probing with an open of our own, which would race qemu-io for the lock.
        ulong inode = Qcow2Mount.Qcow2.Storage.FileIdentity.Of(image)!.Value.Inode;
        string marker = $":{inode} ";
        var deadline = DateTime.UtcNow.AddSeconds(20);
        while (DateTime.UtcNow < deadline && !process.HasExited)
        {
            // Its "write" permission byte (101; the kernel merges it with 100 into "100 101") and its refusal to share
            // writing (201) both taken.
            var lines = File.ReadLines("/proc/locks").Where(line => line.Contains(marker, StringComparison.Ordinal)).ToList();
            if (lines.Any(line => line.EndsWith(" 101", StringComparison.Ordinal)) && lines.Any(line => line.EndsWith(" 201 201", StringComparison.Ordinal)))
            {
                return new Holder(process);
            }

            Thread.Sleep(50);
        }

        string why = process.HasExited ? process.StandardError.ReadToEnd() : "timed out";
        process.Kill();
        Assert.Fail($"qemu-io never took its lock on the image: {why}");
        return new Holder(process);
    }

    private sealed class Holder(Process process) : IDisposable
    {
        public void Dispose()
        {
            process.Kill();
            process.WaitForExit();
            process.Dispose();
        }
    }
}
