using Qcow2Mount.Control;
using Qcow2Mount.Control.Protocol;
using Qcow2Mount.Mounting;
using Qcow2Mount.Service.Tests.Support;
using Qcow2Mount.TestSupport;

namespace Qcow2Mount.Service.Tests;

/// <summary>Writable, read-only and overlay mounts: where writes go, and what never changes.</summary>
internal sealed class WriteModeTests : ServiceMountFixture
{
    private const int EROFS = 30;

    /// <summary>
    /// Writes from <paramref name="threads"/> threads, each in its own stripe of the disk (so the outcome does not
    /// depend on timing), the same bytes to <paramref name="expectedRaw"/>; then fsyncs disk.raw.
    /// </summary>
    private static void WriteConcurrently(string diskRaw, string expectedRaw, int threads, int writesPerThread, int seed)
    {
        long stripe = Images.Size / threads;
        using var disk = File.OpenHandle(diskRaw, FileMode.Open, FileAccess.ReadWrite);
        using var expected = File.OpenHandle(expectedRaw, FileMode.Open, FileAccess.ReadWrite);
        Parallel.For(0, threads, new ParallelOptions { MaxDegreeOfParallelism = threads }, t =>
        {
            var random = new Random(seed + t);
            for (int i = 0; i < writesPerThread; i++)
            {
                var data = new byte[random.Next(1, 150_000)];
                random.NextBytes(data);
                long offset = t * stripe + random.NextInt64(0, stripe - data.Length);
                RandomAccess.Write(disk, data, offset);
                RandomAccess.Write(expected, data, offset);
            }
        });
        RandomAccess.FlushToDisk(disk);
    }

    /// <summary>A writable mount of an image with internal snapshots serves them too (the views share the writer's file).</summary>
    [Test]
    public async Task A_writable_mount_of_an_image_with_snapshots_serves_them_read_only()
    {
        string image = Images.Make("snapshot", ImageDir);
        var mount = await Client.MountAsync(new ControlMountRequest { Image = image, MountPoint = Service.NewMountDir(), Mode = ControlMountModes.Writable });
        try
        {
            Assert.That(mount.Snapshots, Is.Not.Empty);
            string view = Path.Combine(mount.MountPoint, "snapshots", mount.Snapshots[0]);
            Assert.That(new FileInfo(view).Length, Is.Positive);
            File.ReadAllBytes(view);
        }
        finally
        {
            await Client.UnmountAsync(mount.MountPoint);
        }

        Images.AssertCheckClean(image);
    }

    /// <summary>
    /// unmount --force with disk.raw still open: the mount point is free at once and the call returns without waiting
    /// for the file to close (where fusectl cannot cut it off, it says the image is still open); what was written
    /// before is on disk either way, and the image closes cleanly with the last file.
    /// </summary>
    [Test]
    public async Task Forced_unmount_with_a_file_open_returns_at_once_with_the_writes_durable()
    {
        string image = Images.Make("plain", ImageDir);
        string mountDir = Service.NewMountDir();
        var mount = await Client.MountAsync(new ControlMountRequest { Image = image, MountPoint = mountDir, Mode = ControlMountModes.Writable });
        var data = new byte[65536];
        new Random(11).NextBytes(data);
        var open = File.OpenHandle(Path.Combine(mount.MountPoint, Volume.DiskFileName), FileMode.Open, FileAccess.ReadWrite);
        MountInfo unmounted;
        try
        {
            RandomAccess.Write(open, data, 1 << 20);
            var started = DateTime.UtcNow;
            unmounted = await Client.UnmountAsync(mount.MountPoint, force: true);
            var took = DateTime.UtcNow - started;
            TestContext.Out.WriteLine($"forced unmount took {took.TotalSeconds:0.0} s, still open: {unmounted.StillOpen}");
            Assert.Multiple(() =>
            {
                Assert.That(ServiceSession.IsMountPoint(mount.MountPoint), Is.False, "the mount point is free");
                // Not a speed claim: it used to wait for the open file until the mount timeout (30 s) and then fail.
                Assert.That(took, Is.LessThan(TimeSpan.FromSeconds(20)), "returned without waiting for the open file");
                // Flushed before the call returned, whether the image is still open or was closed: a reader sees it.
                Assert.That(ReadGuest(image, 1 << 20, data.Length), Is.EqualTo(data));
            });
        }
        finally
        {
            open.Dispose();
        }

        for (int i = 0; i < 200 && (await Client.ListAsync()).Count > 0; i++)
        {
            await Task.Delay(50);
        }

        Assert.That(await Client.ListAsync(), Is.Empty, "the mount ends with the last open file");
        Images.AssertCheckClean(image);
        Assert.That(ReadGuest(image, 1 << 20, data.Length), Is.EqualTo(data));
    }

    /// <summary>
    /// Stopping the service with disk.raw still open: where the open file cannot be cut off, the stop does not wait
    /// out the mount timeout for it, and what was written is flushed before the process would exit.
    /// </summary>
    [Test]
    public async Task Stopping_the_service_with_a_file_open_flushes_the_writes()
    {
        string image = Images.Make("plain", ImageDir);
        var data = new byte[65536];
        new Random(12).NextBytes(data);
        var service = await ServiceSession.StartAsync();
        Microsoft.Win32.SafeHandles.SafeFileHandle? open = null;
        try
        {
            using (var client = await service.ConnectAsync())
            {
                var mount = await client.MountAsync(new ControlMountRequest { Image = image, MountPoint = service.NewMountDir(), Mode = ControlMountModes.Writable });
                open = File.OpenHandle(Path.Combine(mount.MountPoint, Volume.DiskFileName), FileMode.Open, FileAccess.ReadWrite);
                RandomAccess.Write(open, data, 2 << 20);
            }

            var started = DateTime.UtcNow;
            await service.Host.StopAsync();
            Assert.That(DateTime.UtcNow - started, Is.LessThan(TimeSpan.FromSeconds(20)), "did not wait out the mount timeout");
            Assert.That(ReadGuest(image, 2 << 20, data.Length), Is.EqualTo(data), "the write is on disk");
        }
        finally
        {
            open?.Dispose();
            await service.DisposeAsync();
        }
    }

    private static byte[] ReadGuest(string image, long offset, int length)
    {
        using var disk = Qcow2Mount.Qcow2.Qcow2Image.Open(image);
        var bytes = new byte[length];
        disk.ReadAt(offset, bytes);
        return bytes;
    }

    [Test]
    public async Task Writable_mount_takes_concurrent_writes_and_leaves_a_clean_image_equal_to_the_same_writes_on_raw()
    {
        string image = Images.Make("plain", ImageDir);
        string expected = Images.ConvertToRaw(image, ImageDir.Combine("expected.raw"));
        string mountDir = Service.NewMountDir();

        var mount = await Client.MountAsync(new ControlMountRequest { Image = image, MountPoint = mountDir, Mode = ControlMountModes.Writable });
        Assert.That(mount.ReadOnly, Is.False);
        WriteConcurrently(Path.Combine(mountDir, Volume.DiskFileName), expected, threads: 4, writesPerThread: 40, seed: 10);
        Assert.That(Images.IsDirty(image), Is.True, "lazy refcounts keep the dirty bit set while mounted");
        await Client.UnmountAsync(mountDir);

        Assert.That(Images.IsDirty(image), Is.False, "a clean close clears the dirty bit");
        Images.AssertCheckClean(image);
        Images.AssertSameGuest(image, expected);
    }

    /// <summary>
    /// fallocate on disk.raw (what fstrim through a loop device sends): a punched hole and a zeroed range read as
    /// zeros, also where a backing file holds data underneath, and the image stays clean.
    /// </summary>
    [TestCase("plain")]
    [TestCase("backing-chain")]
    public async Task Punch_hole_and_zero_range_on_a_writable_mount_read_as_zeros(string kind)
    {
        string fallocate = ExternalTool.RequireTool("fallocate");
        string image = Images.Make(kind, ImageDir);
        string expected = Images.ConvertToRaw(image, ImageDir.Combine("expected.raw"));
        string mountDir = Service.NewMountDir();
        string disk = Path.Combine(mountDir, Volume.DiskFileName);

        await Client.MountAsync(new ControlMountRequest { Image = image, MountPoint = mountDir, Mode = ControlMountModes.Writable });
        (string Mode, long Offset, long Length)[] ranges = [("--punch-hole", 1 << 20, 3 << 20), ("--zero-range", (5 << 20) + 4096, 100_000)];
        using (var raw = File.OpenHandle(expected, FileMode.Open, FileAccess.Write))
        {
            foreach (var (mode, offset, length) in ranges)
            {
                ExternalTool.Run(fallocate, [mode, "--keep-size", "--offset", $"{offset}", "--length", $"{length}", disk]).EnsureSuccess();
                RandomAccess.Write(raw, new byte[length], offset);
            }
        }

        byte[] readBack = new byte[3 << 20];
        using (var handle = File.OpenHandle(disk))
        {
            RandomAccess.Read(handle, readBack, 1 << 20);
        }

        Assert.That(readBack.AsSpan().IndexOfAnyExcept((byte)0), Is.EqualTo(-1), "the punched range reads as zeros through the mount");
        var grow = ExternalTool.Run(fallocate, ["--zero-range", "--offset", $"{Images.Size - 4096}", "--length", "65536", disk]);
        Assert.That(grow.ExitCode, Is.Not.Zero, "disk.raw cannot grow");
        await Client.UnmountAsync(mountDir);

        Images.AssertCheckClean(image);
        Images.AssertSameGuest(image, expected);
    }

    [Test]
    public async Task Read_only_mount_refuses_writes_with_EROFS_and_never_changes_the_image()
    {
        string image = Images.Make("plain", ImageDir);
        string before = Images.Sha256(image);
        string mountDir = Service.NewMountDir();

        await Client.MountAsync(new ControlMountRequest { Image = image, MountPoint = mountDir });
        var refused = Assert.Throws(Is.InstanceOf<IOException>(),
            () => File.OpenHandle(Path.Combine(mountDir, Volume.DiskFileName), FileMode.Open, FileAccess.ReadWrite).Dispose());
        await Client.UnmountAsync(mountDir);

        Assert.That(refused!.HResult, Is.EqualTo(EROFS));
        Assert.That(Images.Sha256(image), Is.EqualTo(before));
    }

    [Test]
    public async Task Overlay_mount_writes_to_a_kept_overlay_and_leaves_the_original_untouched()
    {
        string image = Images.Make("backing-chain", ImageDir);
        string before = Images.Sha256(image);
        string expected = Images.ConvertToRaw(image, ImageDir.Combine("expected.raw"));
        string overlay = ImageDir.Combine("changes.qcow2");
        string mountDir = Service.NewMountDir();

        var mount = await Client.MountAsync(new ControlMountRequest { Image = image, MountPoint = mountDir, Mode = ControlMountModes.Overlay, Overlay = overlay, KeepOverlay = true });
        Assert.That(mount.Overlay, Is.EqualTo(overlay));
        WriteConcurrently(Path.Combine(mountDir, Volume.DiskFileName), expected, threads: 3, writesPerThread: 20, seed: 20);
        await Client.UnmountAsync(mountDir);

        Assert.That(Images.Sha256(image), Is.EqualTo(before), "the original is unchanged");
        Assert.That(File.Exists(overlay), Is.True, "the overlay is kept");
        var info = ExternalTool.Run("qemu-img", ["info", overlay]).EnsureSuccess().StandardOutput;
        Assert.That(info, Does.Contain($"backing file: {image}"));
        Images.AssertCheckClean(overlay);
        Images.AssertSameGuest(overlay, expected);
    }

    [Test]
    public async Task Overlay_without_keep_is_a_temporary_file_removed_on_unmount()
    {
        string image = Images.Make("plain", ImageDir);
        string before = Images.Sha256(image);
        string mountDir = Service.NewMountDir();

        var mount = await Client.MountAsync(new ControlMountRequest { Image = image, MountPoint = mountDir, Mode = ControlMountModes.Overlay });
        string overlay = mount.Overlay!;
        Assert.That(File.Exists(overlay), Is.True, "the overlay exists while mounted");
        using (var disk = File.OpenHandle(Path.Combine(mountDir, Volume.DiskFileName), FileMode.Open, FileAccess.ReadWrite))
        {
            RandomAccess.Write(disk, new byte[] { 1, 2, 3 }, 4096);
        }

        await Client.UnmountAsync(mountDir);

        Assert.That(File.Exists(overlay), Is.False, "the overlay is removed on unmount");
        Assert.That(Images.Sha256(image), Is.EqualTo(before));
    }

    /// <summary>fusermount3 -u (any user) and umount (root) from outside: the written data is saved and the image closed cleanly.</summary>
    [TestCase("fusermount3")]
    [TestCase("umount")]
    public async Task Unmounting_from_outside_drops_the_mount_and_closes_the_image_cleanly(string tool)
    {
        if (tool == "umount" && Environment.UserName != "root")
        {
            Assert.Ignore("umount of a FUSE mount needs root; fusermount3 -u covers other users.");
        }

        string image = Images.Make("plain", ImageDir);
        string mountDir = Service.NewMountDir();
        await Client.MountAsync(new ControlMountRequest { Image = image, MountPoint = mountDir, Mode = ControlMountModes.Writable });
        byte[] written = new byte[70_000];
        new Random(5).NextBytes(written);
        using (var disk = File.OpenHandle(Path.Combine(mountDir, Volume.DiskFileName), FileMode.Open, FileAccess.ReadWrite))
        {
            RandomAccess.Write(disk, written, 1 << 20);
        }

        ExternalTool.Run(tool, tool == "umount" ? [mountDir] : ["-u", mountDir]).EnsureSuccess();
        var deadline = DateTime.UtcNow.AddSeconds(10);
        while ((await Client.ListAsync()).Count > 0 && DateTime.UtcNow < deadline)
        {
            await Task.Delay(50);
        }

        Assert.That(await Client.ListAsync(), Is.Empty);
        Assert.That(Images.IsDirty(image), Is.False);
        Images.AssertCheckClean(image);
        byte[] guest = File.ReadAllBytes(Images.ConvertToRaw(image, ImageDir.Combine("after.raw")));
        Assert.That(guest.AsSpan(1 << 20, written.Length).SequenceEqual(written), Is.True, "the write reached the image");
    }
}
