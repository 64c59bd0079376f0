using System.Diagnostics;
using Qcow2Mount.Control;
using Qcow2Mount.Control.Protocol;
using Qcow2Mount.Mounting;
using Qcow2Mount.Service.Tests.Support;
using Qcow2Mount.TestSupport;

namespace Qcow2Mount.Service.Tests;

/// <summary>
/// The service as a separate process, started the way the CLI starts it (<see cref="ServiceLauncher"/>), killed
/// with SIGKILL mid-write: what was fsynced survives, and the next writable mount repairs the image.
/// </summary>
[NonParallelizable]
internal sealed class CrashRecoveryTests
{
    private TempDir _dir = null!;
    private readonly List<string> _mountDirs = [];
    private readonly List<int> _servicePids = [];

    [SetUp]
    public void SetUp()
    {
        Requirements.FuseAndQemu();
        _dir = new TempDir("crash");
    }

    [TearDown]
    public void TearDown()
    {
        foreach (int pid in _servicePids)
        {
            try
            {
                using var process = Process.GetProcessById(pid);
                process.Kill();
                process.WaitForExit(10_000);
            }
            catch (ArgumentException)
            {
                // Exited already.
            }
        }

        foreach (string dir in _mountDirs)
        {
            ServiceSession.CleanUpMount(dir);
        }

        _dir.Dispose();
    }

    private async Task<(ControlClient Client, int Pid)> LaunchServiceAsync(ControlEndpoint endpoint)
    {
        var client = await ServiceLauncher.EnsureRunningAsync(TestHostProcess.LaunchOptions(endpoint, "--Mount:TimeoutSeconds=15"));
        int pid = (await client.StatusAsync()).ProcessId;
        _servicePids.Add(pid);
        return (client, pid);
    }

    [Test]
    public async Task Data_fsynced_before_a_kill_survives_and_the_next_writable_mount_repairs_the_image()
    {
        Assume.That(Path.GetFileNameWithoutExtension(Environment.ProcessPath), Is.EqualTo("dotnet"), "the test host runs under the dotnet host");
        var endpoint = new ControlEndpoint { SocketPath = _dir.Combine("run", "control.sock") };
        string image = _dir.Combine("disk.qcow2");
        Images.Qemu("qemu-img", "create", "-f", "qcow2", image, "16M");
        string mountDir = _dir.Combine("mnt");
        Directory.CreateDirectory(mountDir);
        _mountDirs.Add(mountDir);
        var synced = new byte[1 << 20];
        new Random(5).NextBytes(synced);
        var unsynced = new byte[1 << 20];
        new Random(6).NextBytes(unsynced);

        var (client, pid) = await LaunchServiceAsync(endpoint);
        Assert.That(pid, Is.Not.EqualTo(Environment.ProcessId), "a separate process");
        using (client)
        {
            await client.MountAsync(new ControlMountRequest { Image = image, MountPoint = mountDir, Mode = ControlMountModes.Writable });
            using var disk = File.OpenHandle(Path.Combine(mountDir, Volume.DiskFileName), FileMode.Open, FileAccess.ReadWrite);
            RandomAccess.Write(disk, synced, 3 << 20);
            RandomAccess.FlushToDisk(disk);
            RandomAccess.Write(disk, unsynced, 9 << 20);
            using var service = Process.GetProcessById(pid);
            service.Kill();
            Assert.That(service.WaitForExit(10_000), Is.True, "the service died");
        }

        // The kernel keeps a dead file system's mount point until it is detached.
        ExternalTool.Run("fusermount3", ["-u", "-z", mountDir]).EnsureSuccess();
        Assert.That(Images.IsDirty(image), Is.True, "killed with lazy refcounts in flight");

        var (again, _) = await LaunchServiceAsync(endpoint);
        using (again)
        {
            var mount = await again.MountAsync(new ControlMountRequest { Image = image, MountPoint = mountDir, Mode = ControlMountModes.Writable });
            Assert.That(mount.Repaired, Does.Contain("not closed cleanly"));
            var readBack = new byte[synced.Length];
            using (var disk = File.OpenHandle(Path.Combine(mountDir, Volume.DiskFileName)))
            {
                RandomAccess.Read(disk, readBack, 3 << 20);
            }

            Assert.That(readBack.AsSpan().SequenceEqual(synced), Is.True, "the fsynced data reads back");
            await again.UnmountAsync(mountDir);
            await again.ShutdownAsync();
        }

        Images.AssertCheckClean(image);
        Assert.That(Images.IsDirty(image), Is.False);
    }

    [Test]
    public async Task SIGTERM_unmounts_everything_cleanly_and_the_service_exits()
    {
        var endpoint = new ControlEndpoint { SocketPath = _dir.Combine("run", "control.sock") };
        string image = _dir.Combine("disk.qcow2");
        Images.Qemu("qemu-img", "create", "-f", "qcow2", image, "16M");
        string mountDir = _dir.Combine("mnt");
        Directory.CreateDirectory(mountDir);
        _mountDirs.Add(mountDir);
        var (client, pid) = await LaunchServiceAsync(endpoint);
        using (client)
        {
            await client.MountAsync(new ControlMountRequest { Image = image, MountPoint = mountDir, Mode = ControlMountModes.Writable });
            using (var disk = File.OpenHandle(Path.Combine(mountDir, Volume.DiskFileName), FileMode.Open, FileAccess.ReadWrite))
            {
                RandomAccess.Write(disk, new byte[] { 7, 7, 7 }, 5 << 20);
            }
        }

        ExternalTool.Run("kill", ["-TERM", pid.ToString(System.Globalization.CultureInfo.InvariantCulture)]).EnsureSuccess();
        using var service = Process.GetProcessById(pid);
        Assert.That(service.WaitForExit(30_000), Is.True, "the service exits on SIGTERM");

        Assert.Multiple(() =>
        {
            Assert.That(ServiceSession.IsMountPoint(mountDir), Is.False);
            Assert.That(File.Exists(endpoint.SocketPath), Is.False);
            Assert.That(Images.IsDirty(image), Is.False);
        });
        Images.AssertCheckClean(image);
    }

    [Test]
    public async Task The_launcher_reports_a_service_that_exits_before_answering()
    {
        var endpoint = new ControlEndpoint { SocketPath = _dir.Combine("run", "control.sock") };
        var options = TestHostProcess.LaunchOptions(endpoint, "--Qcow2:L2CacheBytes=abc");

        var error = Assert.ThrowsAsync<ControlException>(() => ServiceLauncher.EnsureRunningAsync(options));

        Assert.That(error!.Code, Is.EqualTo(ErrorCodes.ServiceUnavailable));
        Assert.That(error.Message, Does.Contain("exited with code 1"));
        Assert.That(error.Message, Does.Contain("Qcow2:L2CacheBytes: must be a positive number of bytes"));
    }
}
