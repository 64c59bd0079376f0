using Qcow2Mount.Fuse;
using Qcow2Mount.Mounting;
using Qcow2Mount.Service.Configuration;
using Qcow2Mount.Service.Mounts;
using Qcow2Mount.Service.Tests.Support;
using Qcow2Mount.TestSupport;

namespace Qcow2Mount.Service.Tests;

/// <summary><c>mount --foreground</c>: the mount lives exactly as long as the call.</summary>
[NonParallelizable]
internal sealed class ForegroundTests
{
    [Test]
    public async Task A_foreground_mount_serves_until_cancelled_then_closes_the_image_cleanly()
    {
        Requirements.FuseAndQemu();
        using var dir = new TempDir("fg");
        string image = Images.Make("plain", dir);
        string mountDir = dir.Combine("mnt");
        Directory.CreateDirectory(mountDir);
        using var manager = new MountManager(new FuseHost(), new ServiceSettings());
        using var stop = new CancellationTokenSource();
        string? seen = null;
        try
        {
            var run = manager.RunForegroundAsync(new MountRequest { ImagePath = image, MountPoint = mountDir, Mode = MountMode.Writable }, info =>
            {
                seen = Images.Sha256(Path.Combine(info.MountPoint, Volume.DiskFileName));
                using var disk = File.OpenHandle(Path.Combine(info.MountPoint, Volume.DiskFileName), FileMode.Open, FileAccess.ReadWrite);
                RandomAccess.Write(disk, new byte[] { 1, 2, 3, 4 }, 100);
                stop.CancelAfter(100);
            }, stop.Token);

            var finished = await run.WaitAsync(TimeSpan.FromSeconds(30));

            Assert.Multiple(() =>
            {
                Assert.That(seen, Is.Not.Null, "disk.raw was readable while mounted");
                Assert.That(finished.MountPoint, Is.EqualTo(mountDir));
                Assert.That(ServiceSession.IsMountPoint(mountDir), Is.False);
                Assert.That(manager.List(), Is.Empty);
                Assert.That(Images.IsDirty(image), Is.False);
            });
            Images.AssertCheckClean(image);
        }
        finally
        {
            ServiceSession.CleanUpMount(mountDir);
        }
    }

    [Test]
    public async Task A_foreground_mount_returns_when_unmounted_from_outside()
    {
        Requirements.FuseAndQemu();
        using var dir = new TempDir("fg");
        string image = Images.Make("zstd", dir);
        string mountDir = dir.Combine("mnt");
        Directory.CreateDirectory(mountDir);
        using var manager = new MountManager(new FuseHost(), new ServiceSettings());
        try
        {
            var run = manager.RunForegroundAsync(new MountRequest { ImagePath = image, MountPoint = mountDir }, _ =>
                Task.Run(() => ExternalTool.Run("fusermount3", ["-u", mountDir]).EnsureSuccess()));

            await run.WaitAsync(TimeSpan.FromSeconds(30));

            Assert.That(manager.List(), Is.Empty);
        }
        finally
        {
            ServiceSession.CleanUpMount(mountDir);
        }
    }
}
