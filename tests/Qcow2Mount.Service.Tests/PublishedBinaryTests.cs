using System.Security.Cryptography;
using System.Text.Json;
using Qcow2Mount.Service.Tests.Support;
using Qcow2Mount.TestSupport;

namespace Qcow2Mount.Service.Tests;

/// <summary>
/// The executable users get from <c>build.ps1 publish</c>, run the way a user runs it. On Linux that is a native
/// (AOT) binary: trimmed, with no JIT and no run-time reflection over unreferenced code, so something that works
/// under <c>dotnet test</c> can still fail there. <c>bash .ci/run</c> publishes it and points
/// <see cref="Variable"/> at it; without it these tests are ignored, saying so.
/// </summary>
[TestFixture]
internal sealed class PublishedBinaryTests
{
    private const string Variable = "QCOW2MOUNT_PUBLISHED";

    [Test]
    public void Image_commands_work_in_the_published_binary()
    {
        string binary = Binary();
        ExternalTool.RequireTool("qemu-img");
        using var dir = new TempDir("published");
        string raw = dir.Combine("source.raw");
        File.WriteAllBytes(raw, Pattern(8 << 20, seed: 1));

        Run(binary, "convert", "-O", "qcow2", "-c", raw, dir.Combine("deflate.qcow2"));
        Run(binary, "convert", "-O", "qcow2", "-c", "-o", "compression_type=zstd", raw, dir.Combine("zstd.qcow2"));
        foreach (string image in new[] { "deflate.qcow2", "zstd.qcow2" })
        {
            ExternalTool.Run("qemu-img", ["check", dir.Combine(image)]).EnsureSuccess();
            ExternalTool.Run("qemu-img", ["compare", "-f", "raw", "-F", "qcow2", raw, dir.Combine(image)]).EnsureSuccess();
        }

        using (var info = JsonDocument.Parse(Run(binary, "info", "--json", dir.Combine("zstd.qcow2"))))
        {
            Assert.That(info.RootElement.GetProperty("virtual-size").GetInt64(), Is.EqualTo(8 << 20));
            Assert.That(info.RootElement.GetProperty("format-specific").GetProperty("data").GetProperty("compression-type").GetString(),
                Is.EqualTo("zstd"));
        }

        string created = dir.Combine("created.qcow2");
        Run(binary, "create", created, "64M");
        Run(binary, "snapshot", "create", created, "before");
        Run(binary, "resize", created, "128M");
        Run(binary, "check", created);
        ExternalTool.Run("qemu-img", ["check", created]).EnsureSuccess();
        Assert.That(ExternalTool.Run("qemu-img", ["snapshot", "-l", created]).EnsureSuccess().StandardOutput, Does.Contain("before"));

        Assert.That(Run(binary, "config"), Does.Contain("Mount:DefaultMode = ReadOnly"));

        // Bad input: a header cut short after the magic gets one line and the documented exit code (3), no stack trace.
        string truncated = dir.Combine("truncated.qcow2");
        File.WriteAllBytes(truncated, [(byte)'Q', (byte)'F', (byte)'I', 0xfb, 0, 0, 0, 3, 1, 2]);
        var refused = ExternalTool.Run(binary, ["info", truncated]);
        Assert.That(refused.ExitCode, Is.EqualTo(3), refused.StandardError);
        Assert.That(refused.StandardError, Does.Contain("not a qcow2 image"));
        Assert.That(refused.StandardError.Trim().Split('\n'), Has.Length.EqualTo(1), refused.StandardError);
    }

    /// <summary>
    /// <c>mount</c> starts the binary's own service (a second process of the same executable), which serves
    /// disk.raw; <c>unmount</c> closes the image cleanly; SIGTERM stops the service.
    /// </summary>
    [Test]
    public void Mount_starts_the_published_service_and_serves_disk_raw()
    {
        string binary = Binary();
        Requirements.FuseAndQemu();
        using var dir = new TempDir("published-mount");
        var environment = new Dictionary<string, string?> { ["QCOW2MOUNT_Control__SocketPath"] = dir.Combine("control.sock") };
        string image = dir.Combine("disk.qcow2");
        string expected = dir.Combine("expected.raw");
        string mountPoint = dir.Combine("mnt");
        Directory.CreateDirectory(mountPoint);
        ExternalTool.Run("qemu-img", ["create", "-q", "-f", "qcow2", image, "32M"]).EnsureSuccess();
        ExternalTool.Run("qemu-io", ["-c", "write -P 0x5a 1M 3M", "-c", "write -z 2M 64k", image]).EnsureSuccess();
        try
        {
            Assert.That(Run(binary, environment, "mount", image, mountPoint), Does.Contain("disk.raw"));
            string disk = Path.Combine(mountPoint, "disk.raw");
            ExternalTool.Run("qemu-img", ["convert", "-O", "raw", image, expected]).EnsureSuccess();
            Assert.That(Sha256(disk), Is.EqualTo(Sha256(expected)), "read-only disk.raw");
            Assert.Catch<Exception>(() => File.OpenWrite(disk).Dispose(), "a read-only mount refused a write open");
            Assert.That(Run(binary, environment, "list", "--json"), Does.Contain(Path.GetFileName(mountPoint)));
            Run(binary, environment, "unmount", mountPoint);

            // A snapshot mount: the confirmation and the text list name the snapshot.
            ExternalTool.Run("qemu-img", ["snapshot", "-c", "s1", image]).EnsureSuccess();
            Assert.That(Run(binary, environment, "mount", "--snapshot", "s1", image, mountPoint), Does.Contain("(snapshot 's1', read-only)"));
            Assert.That(Run(binary, environment, "list"), Does.Contain($"{mountPoint}\tsnapshot\t{image}\ts1"));
            Run(binary, environment, "unmount", mountPoint);

            Run(binary, environment, "mount", "--writable", image, mountPoint);
            byte[] written = Pattern(1 << 20, seed: 2);
            using (var stream = new FileStream(disk, FileMode.Open, FileAccess.Write))
            {
                stream.Position = 5 << 20;
                stream.Write(written);
                stream.Flush(flushToDisk: true);
            }

            Run(binary, environment, "unmount", mountPoint);
            using (var patch = new FileStream(expected, FileMode.Open, FileAccess.Write))
            {
                patch.Position = 5 << 20;
                patch.Write(written);
            }

            ExternalTool.Run("qemu-img", ["check", image]).EnsureSuccess();
            ExternalTool.Run("qemu-img", ["compare", "-f", "raw", "-F", "qcow2", expected, image]).EnsureSuccess();
        }
        finally
        {
            ExternalTool.Run("fusermount3", ["-u", "-z", mountPoint]);
            StopService(dir.Combine("control.sock"));
        }
    }

    /// <summary>
    /// The README's first command, with the published binary: mount assets/sample.qcow2, then what the README
    /// suggests looking at (mmls and fls on disk.raw) and the README file inside the FAT partition.
    /// </summary>
    [Test]
    public void The_README_sample_mounts_and_sleuthkit_finds_its_file()
    {
        string binary = Binary();
        Requirements.FuseAndQemu();
        string mmls = ExternalTool.RequireTool("mmls");
        string fls = ExternalTool.RequireTool("fls");
        string icat = ExternalTool.RequireTool("icat");
        string sample = Path.Combine(RepositoryRoot(), "assets", "sample.qcow2");
        string before = Sha256(sample);
        using var dir = new TempDir("published-sample");
        var environment = new Dictionary<string, string?> { ["QCOW2MOUNT_Control__SocketPath"] = dir.Combine("control.sock") };
        string mountPoint = dir.Combine("sample");
        Directory.CreateDirectory(mountPoint);
        try
        {
            Run(binary, environment, "mount", sample, mountPoint);
            string disk = Path.Combine(mountPoint, "disk.raw");
            Assert.That(ExternalTool.Run(mmls, [disk]).EnsureSuccess().StandardOutput, Does.Contain("0000002048"));
            string listing = ExternalTool.Run(fls, ["-o", "2048", disk]).EnsureSuccess().StandardOutput;
            var entry = listing.Split('\n').FirstOrDefault(line => line.Contains("README.TXT", StringComparison.Ordinal));
            Assert.That(entry, Is.Not.Null, listing);
            string inode = entry!.Split(':')[0].Split(' ', StringSplitOptions.RemoveEmptyEntries).Last();
            Assert.That(ExternalTool.Run(icat, ["-o", "2048", disk, inode]).EnsureSuccess().StandardOutput,
                Does.StartWith("Hello from inside a QCOW2 image."));
            Run(binary, environment, "unmount", mountPoint);
        }
        finally
        {
            ExternalTool.Run("fusermount3", ["-u", "-z", mountPoint]);
            StopService(dir.Combine("control.sock"));
        }

        Assert.That(Sha256(sample), Is.EqualTo(before), "a read-only mount leaves the image's bytes alone");
    }

    private static string RepositoryRoot()
    {
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
        {
            if (File.Exists(Path.Combine(dir.FullName, "Qcow2Mount.sln")))
            {
                return dir.FullName;
            }
        }

        throw new InvalidOperationException("Qcow2Mount.sln not found above the test binaries");
    }

    private static string Binary()
    {
        string? path = Environment.GetEnvironmentVariable(Variable);
        if (string.IsNullOrEmpty(path))
        {
            Assert.Ignore($"{Variable} is not set: run `pwsh build.ps1 publish` and set {Variable} to the qcow2mount it wrote (bash .ci/run does both).");
        }

        Assert.That(File.Exists(path), Is.True, $"{Variable} names {path}, which does not exist.");
        return path!;
    }

    private static string Run(string binary, params string[] arguments) => Run(binary, null, arguments);

    private static string Run(string binary, IReadOnlyDictionary<string, string?>? environment, params string[] arguments)
    {
        var result = ExternalTool.Run(binary, arguments, environment: environment);
        Assert.That(result.ExitCode, Is.Zero, $"qcow2mount {string.Join(' ', arguments)}: {result.StandardError}");
        return result.StandardOutput;
    }

    /// <summary>SIGTERM to the service that listens on <paramref name="socket"/> (its command line names it), then waits for it to exit.</summary>
    private static void StopService(string socket)
    {
        foreach (string process in Directory.EnumerateDirectories("/proc"))
        {
            string commandLine;
            try
            {
                commandLine = File.ReadAllText(Path.Combine(process, "cmdline"));
            }
            catch (IOException)
            {
                continue;
            }
            catch (UnauthorizedAccessException)
            {
                continue;
            }

            if (!commandLine.Contains(socket, StringComparison.Ordinal) || !commandLine.Contains("serve", StringComparison.Ordinal))
            {
                continue;
            }

            string pid = Path.GetFileName(process);
            ExternalTool.Run("kill", ["-TERM", pid]);
            var deadline = DateTime.UtcNow.AddSeconds(15);
            while (IsRunning(process) && DateTime.UtcNow < deadline)
            {
                Thread.Sleep(50);
            }

            Assert.That(IsRunning(process), Is.False, $"the service (pid {pid}) outlived SIGTERM by 15 s");
        }
    }

    /// <summary>Still running: the process exists and is not a zombie waiting for whoever adopted it to reap it.</summary>
    private static bool IsRunning(string process)
    {
        try
        {
            string stat = File.ReadAllText(Path.Combine(process, "stat"));
            return stat[(stat.LastIndexOf(')') + 2)..].StartsWith('Z') is false;
        }
        catch (IOException)
        {
            return false;
        }
    }

    /// <summary>Half random bytes, half zeros, so compression and zero detection both have work.</summary>
    private static byte[] Pattern(int length, int seed)
    {
        byte[] data = new byte[length];
        new Random(seed).NextBytes(data.AsSpan(0, length / 2));
        return data;
    }

    private static string Sha256(string path)
    {
        using var stream = File.OpenRead(path);
        return Convert.ToHexString(SHA256.HashData(stream));
    }
}
