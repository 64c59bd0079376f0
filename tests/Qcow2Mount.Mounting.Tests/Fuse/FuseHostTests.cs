using Qcow2Mount.Mounting.Tests.Doubles;
using Qcow2Mount.Qcow2;

namespace Qcow2Mount.Mounting.Tests.Fuse;

/// <summary>Real mounts through the kernel: what programs read and write through disk.raw is what the disk holds.</summary>
[NonParallelizable]
[System.Runtime.Versioning.SupportedOSPlatform("linux")]
internal sealed class FuseHostTests
{
    private const int EIO = 5;
    private const int EROFS = 30;
    private const int EOPNOTSUPP = 95;
    private static readonly DateTimeOffset ImageTime = new(2024, 2, 3, 4, 5, 6, TimeSpan.Zero);
    private static readonly TimeSpan Patience = TimeSpan.FromSeconds(15);
    private FuseTestMount _fuse = null!;

    [SetUp]
    public void SetUp() => _fuse = new FuseTestMount();

    [TearDown]
    public void TearDown() => _fuse?.Dispose();

    private static Volume VolumeOver(IVirtualDisk disk, bool readOnly, params SnapshotDisk[] snapshots) =>
        new(disk, new VolumeOptions { ReadOnly = readOnly, Label = "test", Timestamp = ImageTime }, snapshots);

    private string InMount(string relative) => Path.Combine(_fuse.Directory, relative);

    /// <summary>Byte-for-byte comparison that names the first difference (NUnit's collection compare is slow on megabytes).</summary>
    private static void AssertSameBytes(ReadOnlySpan<byte> expected, ReadOnlySpan<byte> actual)
    {
        Assert.That(actual.Length, Is.EqualTo(expected.Length), "length");
        int mismatch = expected.CommonPrefixLength(actual);
        Assert.That(mismatch, Is.EqualTo(expected.Length), $"first differing byte at offset {mismatch}");
    }

    private static void AssertErrno(TestDelegate action, int errno)
    {
        var failure = Assert.Throws(Is.InstanceOf<IOException>(), action) as IOException;
        Assert.That(failure!.HResult, Is.EqualTo(errno), failure.Message);
    }

    [Test]
    public void Reading_disk_raw_returns_the_disk_bytes()
    {
#pragma warning disable CA2000 // Wrong: the mount owns the volume (TearDown unmounts it), and the volume owns its disks.
        var disk = MemoryDisk.WithNoise(8 << 20, canWrite: false);
        _fuse.Start(VolumeOver(disk, readOnly: true));
#pragma warning restore CA2000

        byte[] whole = File.ReadAllBytes(_fuse.DiskPath);
        using var file = File.OpenHandle(_fuse.DiskPath);
        var odd = new byte[10_000];
        int oddRead = RandomAccess.Read(file, odd, 4093);
        int atEnd = RandomAccess.Read(file, odd, 8 << 20);

        AssertSameBytes(disk.Data, whole);
        AssertSameBytes(disk.Data.AsSpan(4093, 10_000), odd);
        Assert.Multiple(() =>
        {
            Assert.That(oddRead, Is.EqualTo(10_000));
            Assert.That(atEnd, Is.Zero);
            Assert.That(_fuse.Log, Is.Empty);
        });
    }

    [Test]
    public void Reading_over_a_raw_file_backed_disk_returns_the_file_bytes()
    {
        string image = Path.GetTempFileName();
        try
        {
            var bytes = new byte[16 << 20];
            new Random(3).NextBytes(bytes);
            File.WriteAllBytes(image, bytes);
#pragma warning disable CA2000 // Wrong: the mount owns the volume (TearDown unmounts it), and the volume owns its disks.
            var disk = new RawFileDisk(image, writable: false);
            _fuse.Start(VolumeOver(disk, readOnly: true));
#pragma warning restore CA2000

            using var stream = new FileStream(_fuse.DiskPath, FileMode.Open, FileAccess.Read, FileShare.Read, bufferSize: 0);
            var read = new byte[bytes.Length];
            stream.ReadExactly(read);

            AssertSameBytes(bytes, read);
            Assert.That(stream.Read(new byte[1]), Is.Zero, "end of file");
        }
        finally
        {
            _fuse.Mount?.Unmount();
            File.Delete(image);
        }
    }

    [Test]
    public void Requests_are_larger_than_the_kernel_default_of_128_KiB()
    {
#pragma warning disable CA2000 // Wrong: the mount owns the volume (TearDown unmounts it), and the volume owns its disks.
        var disk = MemoryDisk.WithNoise(16 << 20, canWrite: false);
        _fuse.Start(VolumeOver(disk, readOnly: true));
#pragma warning restore CA2000

        using var stream = new FileStream(_fuse.DiskPath, FileMode.Open, FileAccess.Read, FileShare.Read, bufferSize: 0);
        stream.ReadExactly(new byte[16 << 20]);

        if (Environment.UserName != "root")
        {
            Assert.Ignore("Only root may raise the readahead window, which caps buffered request sizes.");
        }

        Assert.That(disk.LargestRead, Is.GreaterThan(128 << 10), "max_read / max_write and the readahead window were not raised");
    }

    [Test]
    public void The_root_lists_disk_raw_and_snapshots_with_their_attributes()
    {
#pragma warning disable CA2000 // Wrong: the mount owns the volume (TearDown unmounts it), and the volume owns its disks.
        var disk = MemoryDisk.WithNoise(1 << 20, canWrite: false);
        _fuse.Start(VolumeOver(disk, readOnly: true, new SnapshotDisk("clean install", MemoryDisk.WithNoise(65536, canWrite: false))));
#pragma warning restore CA2000

        var names = Directory.GetFileSystemEntries(_fuse.Directory).Select(Path.GetFileName).Order();
        var snapshots = Directory.GetFiles(InMount("snapshots")).Select(Path.GetFileName);
        var info = new FileInfo(_fuse.DiskPath);

        Assert.Multiple(() =>
        {
            Assert.That(names, Is.EqualTo(new[] { "disk.raw", "snapshots" }));
            Assert.That(snapshots, Is.EqualTo(new[] { "clean install.raw" }));
            Assert.That(info.Length, Is.EqualTo(1 << 20));
            Assert.That(new FileInfo(InMount("snapshots/clean install.raw")).Length, Is.EqualTo(65536));
            Assert.That(info.LastWriteTimeUtc, Is.EqualTo(ImageTime.UtcDateTime));
            Assert.That(File.GetUnixFileMode(_fuse.DiskPath), Is.EqualTo((UnixFileMode)Convert.ToInt32("444", 8)));
            Assert.That(File.GetUnixFileMode(_fuse.Directory), Is.EqualTo((UnixFileMode)Convert.ToInt32("555", 8)));
            Assert.That(File.Exists(InMount("nothing")), Is.False);
        });
    }

    [Test]
    public void Writes_through_disk_raw_reach_the_disk()
    {
#pragma warning disable CA2000 // Wrong: the mount owns the volume (TearDown unmounts it), and the volume owns its disks.
        var disk = new MemoryDisk(new byte[4 << 20]);
        _fuse.Start(VolumeOver(disk, readOnly: false));
#pragma warning restore CA2000
        var data = new byte[300_000];
        new Random(5).NextBytes(data);

        using (var file = File.OpenHandle(_fuse.DiskPath, FileMode.Open, FileAccess.ReadWrite))
        {
            RandomAccess.Write(file, data, 12_345);
            var back = new byte[data.Length];
            RandomAccess.Read(file, back, 12_345);
            AssertSameBytes(data, back);
        }

        AssertSameBytes(data, disk.Data.AsSpan(12_345, data.Length));
        Assert.Multiple(() =>
        {
            Assert.That(disk.Data[12_344], Is.Zero);
            Assert.That(disk.FlushCount, Is.GreaterThanOrEqualTo(1), "close(2) flushes what was written");
            Assert.That(File.GetUnixFileMode(_fuse.DiskPath), Is.EqualTo((UnixFileMode)Convert.ToInt32("644", 8)));
        });
    }

    [Test]
    public void Fsync_makes_the_disk_flush()
    {
#pragma warning disable CA2000 // Wrong: the mount owns the volume (TearDown unmounts it), and the volume owns its disks.
        var disk = new MemoryDisk(new byte[1 << 20]);
        _fuse.Start(VolumeOver(disk, readOnly: false));
#pragma warning restore CA2000

        using var stream = new FileStream(_fuse.DiskPath, FileMode.Open, FileAccess.Write, FileShare.ReadWrite, bufferSize: 0);
        stream.Write([1, 2, 3]);
        int beforeFsync = disk.FlushCount;
        stream.Flush(flushToDisk: true);

        Assert.Multiple(() =>
        {
            Assert.That(beforeFsync, Is.Zero);
            Assert.That(disk.FlushCount, Is.EqualTo(1));
            Assert.That(disk.Data[..3], Is.EqualTo(new byte[] { 1, 2, 3 }));
        });
    }

    [Test]
    public void Write_opens_on_a_read_only_mount_fail_with_EROFS()
    {
#pragma warning disable CA2000 // Wrong: the mount owns the volume (TearDown unmounts it), and the volume owns its disks.
        var disk = MemoryDisk.WithNoise(1 << 20, canWrite: false);
        _fuse.Start(VolumeOver(disk, readOnly: true));
#pragma warning restore CA2000

        AssertErrno(() => File.OpenHandle(_fuse.DiskPath, FileMode.Open, FileAccess.Write).Dispose(), EROFS);
        AssertErrno(() => File.WriteAllText(InMount("new.txt"), "x"), EROFS);
    }

    [Test]
    public void A_read_only_mount_option_protects_a_writable_volume()
    {
#pragma warning disable CA2000 // Wrong: the mount owns the volume (TearDown unmounts it), and the volume owns its disks.
        var disk = new MemoryDisk(new byte[1 << 20]);
        var mount = _fuse.Start(VolumeOver(disk, readOnly: false), new MountOptions { ReadOnly = true });
#pragma warning restore CA2000

        AssertErrno(() => File.OpenHandle(_fuse.DiskPath, FileMode.Open, FileAccess.ReadWrite).Dispose(), EROFS);
        mount.Unmount();

        Assert.That(disk.FlushCount, Is.EqualTo(1), "the volume itself was writable, so closing it flushes");
    }

    [Test]
    public void Snapshot_files_are_readable_and_not_writable_on_a_writable_mount()
    {
#pragma warning disable CA2000 // Wrong: the mount owns the volume (TearDown unmounts it), and the volume owns its disks.
        var snapshot = MemoryDisk.WithNoise(1 << 20, canWrite: false, seed: 9);
        _fuse.Start(VolumeOver(new MemoryDisk(new byte[1 << 20]), readOnly: false, new SnapshotDisk("x", snapshot)));
#pragma warning restore CA2000
        string path = InMount("snapshots/x.raw");

        AssertSameBytes(snapshot.Data, File.ReadAllBytes(path));
        AssertErrno(() => File.OpenHandle(path, FileMode.Open, FileAccess.Write).Dispose(), EROFS);
        Assert.That(File.GetUnixFileMode(path), Is.EqualTo((UnixFileMode)Convert.ToInt32("444", 8)));
    }

    [Test]
    public void Names_cannot_change_and_the_size_is_fixed_on_a_writable_mount()
    {
#pragma warning disable CA2000 // Wrong: the mount owns the volume (TearDown unmounts it), and the volume owns its disks.
        var disk = new MemoryDisk(new byte[1 << 20]);
        _fuse.Start(VolumeOver(disk, readOnly: false));
#pragma warning restore CA2000

        Assert.Multiple(() =>
        {
            Assert.That(() => File.WriteAllText(InMount("new.txt"), "x"), Throws.InstanceOf<UnauthorizedAccessException>());
            Assert.That(() => File.Delete(_fuse.DiskPath), Throws.InstanceOf<UnauthorizedAccessException>());
            Assert.That(() => File.Move(_fuse.DiskPath, InMount("moved.raw")), Throws.InstanceOf<UnauthorizedAccessException>());
            Assert.That(() => Directory.CreateDirectory(InMount("dir")), Throws.InstanceOf<UnauthorizedAccessException>());
        });

        using var stream = new FileStream(_fuse.DiskPath, FileMode.Open, FileAccess.ReadWrite, FileShare.ReadWrite, bufferSize: 0);
        stream.SetLength(1 << 20);
        AssertErrno(() => stream.SetLength(4096), EOPNOTSUPP);
        Assert.That(new FileInfo(_fuse.DiskPath).Length, Is.EqualTo(1 << 20));
    }

    [Test]
    public void Several_threads_reading_at_random_are_served_at_the_same_time()
    {
#pragma warning disable CA2000 // Wrong: the mount owns the volume (TearDown unmounts it), and the volume owns its disks.
        var disk = MemoryDisk.WithNoise(32 << 20, canWrite: false);
        disk.ReadDelay = TimeSpan.FromMilliseconds(20);
        _fuse.Start(VolumeOver(disk, readOnly: true));
#pragma warning restore CA2000
        using var file = File.OpenHandle(_fuse.DiskPath);

        var failures = new System.Collections.Concurrent.ConcurrentBag<string>();
        Parallel.For(0, 8, new ParallelOptions { MaxDegreeOfParallelism = 8 }, thread =>
        {
            var random = new Random(thread);
            var buffer = new byte[65536];
            for (int i = 0; i < 12; i++)
            {
                long offset = random.NextInt64((32 << 20) - buffer.Length);
                int read = RandomAccess.Read(file, buffer, offset);
                if (read != buffer.Length || !buffer.AsSpan().SequenceEqual(disk.Data.AsSpan((int)offset, buffer.Length)))
                {
                    failures.Add($"thread {thread}: wrong bytes at {offset}");
                }
            }
        });

        Assert.Multiple(() =>
        {
            Assert.That(failures, Is.Empty);
            Assert.That(disk.MaxConcurrentReads, Is.GreaterThanOrEqualTo(2), "requests were served one at a time");
        });
    }

    /// <summary>
    /// Replies read into memory go back through each FUSE thread's own in-memory file (so the kernel copies them
    /// once), not one per request, and unmounting closes them all.
    /// </summary>
    [Test]
    public void Large_replies_use_one_reply_file_per_thread_which_unmount_closes()
    {
#pragma warning disable CA2000 // Wrong: the mount owns the volume (TearDown unmounts it), and the volume owns its disks.
        var disk = MemoryDisk.WithNoise(64 << 20, canWrite: false);
        var mount = _fuse.Start(VolumeOver(disk, readOnly: true));
#pragma warning restore CA2000

        byte[] whole = File.ReadAllBytes(_fuse.DiskPath);
        int whileMounted = ReplyFiles();
        mount.Unmount();

        AssertSameBytes(disk.Data, whole);
        Assert.Multiple(() =>
        {
            Assert.That(whileMounted, Is.InRange(1, 10), "one reply file per FUSE thread (libfuse runs at most 10)");
            Assert.That(ReplyFiles(), Is.Zero, "reply files left open after unmount");
        });
    }

    private static int ReplyFiles() =>
        new DirectoryInfo("/proc/self/fd").EnumerateFileSystemInfos()
            .Count(fd => fd.LinkTarget?.StartsWith("/memfd:qcow2mount-reply", StringComparison.Ordinal) == true);

    [Test]
    public void Engine_errors_reach_the_reader_as_EIO_and_the_mount_keeps_serving()
    {
#pragma warning disable CA2000 // Wrong: the mount owns the volume (TearDown unmounts it), and the volume owns its disks.
        var disk = MemoryDisk.WithNoise(1 << 20, canWrite: false);
        _fuse.Start(VolumeOver(disk, readOnly: true));
#pragma warning restore CA2000
        using var file = File.OpenHandle(_fuse.DiskPath);

        disk.ReadFailure = new Qcow2Exception(Qcow2ErrorCode.Corrupt, "L2 table past the end of the image");
        AssertErrno(() => RandomAccess.Read(file, new byte[4096], 0), EIO);
        disk.ReadFailure = new InvalidOperationException("a bug in the engine");
        AssertErrno(() => RandomAccess.Read(file, new byte[4096], 8192), EIO);
        disk.ReadFailure = null;
        var buffer = new byte[4096];
        RandomAccess.Read(file, buffer, 65536);

        AssertSameBytes(disk.Data.AsSpan(65536, 4096), buffer);
        Assert.That(_fuse.Log, Has.Count.EqualTo(1).And.Some.Contains("a bug in the engine"), "only the surprise is logged");
    }

    [Test]
    public void Unmount_closes_the_volume_and_frees_the_mount_point()
    {
#pragma warning disable CA2000 // Wrong: the mount owns the volume (TearDown unmounts it), and the volume owns its disks.
        var disk = new MemoryDisk(new byte[1 << 20]);
        var mount = _fuse.Start(VolumeOver(disk, readOnly: false));
#pragma warning restore CA2000

        mount.Unmount();

        Assert.Multiple(() =>
        {
            Assert.That(mount.Unmounted.IsCompletedSuccessfully, Is.True);
            Assert.That(disk.IsDisposed, Is.True);
            Assert.That(disk.FlushCount, Is.EqualTo(1));
            Assert.That(FuseTestMount.IsMountPoint(_fuse.Directory), Is.False);
        });
        mount.Unmount();
    }

    [Test]
    public void Fusermount_from_outside_ends_the_host_and_closes_the_disk()
    {
#pragma warning disable CA2000 // Wrong: the mount owns the volume (TearDown unmounts it), and the volume owns its disks.
        var disk = new MemoryDisk(new byte[1 << 20]);
        var mount = _fuse.Start(VolumeOver(disk, readOnly: false));
#pragma warning restore CA2000
        File.ReadAllBytes(_fuse.DiskPath);

        var (exitCode, error) = FuseTestMount.Fusermount("-u", _fuse.Directory);

        Assert.That(exitCode, Is.Zero, error);
        Assert.That(mount.Unmounted.Wait(Patience), Is.True, "the loop did not end");
        Assert.Multiple(() =>
        {
            Assert.That(disk.IsDisposed, Is.True);
            Assert.That(disk.FlushCount, Is.EqualTo(1));
        });
    }

    [Test]
    public void Unmount_with_an_open_file_is_busy_and_force_frees_the_mount_point()
    {
#pragma warning disable CA2000 // Wrong: the mount owns the volume (TearDown unmounts it), and the volume owns its disks.
        var disk = MemoryDisk.WithNoise(1 << 20, canWrite: false);
        var mount = _fuse.Start(VolumeOver(disk, readOnly: true));
#pragma warning restore CA2000
        var open = File.OpenHandle(_fuse.DiskPath);

        var busy = Assert.Throws<VolumeException>(() => mount.Unmount())!;
        Assert.That(busy.Code, Is.EqualTo(VolumeErrorCode.Busy), busy.Message);
        Assert.That(FuseTestMount.IsMountPoint(_fuse.Directory), Is.True, "a refused unmount leaves the mount alone");

        mount.Unmount(force: true);
        bool cutOff = mount.Unmounted.IsCompleted;
        open.Dispose();

        Assert.Multiple(() =>
        {
            Assert.That(FuseTestMount.IsMountPoint(_fuse.Directory), Is.False, "force frees the mount point at once");
            Assert.That(mount.Unmounted.Wait(Patience), Is.True, "the loop ends at the latest when the last file closes");
            Assert.That(disk.IsDisposed, Is.True);
        });
        TestContext.Out.WriteLine(cutOff ? "fusectl cut the open file off" : "fusectl unavailable: the loop ended with the last close");
    }

    /// <summary>
    /// Detached lazily from outside with a file still open, the mount keeps serving that file while the path is free
    /// for something else: a forced unmount must then end only our connection and leave the newcomer mounted.
    /// </summary>
    [Test]
    public void Force_unmount_after_a_lazy_detach_leaves_whatever_is_mounted_there_now()
    {
        if (Environment.UserName != "root")
        {
            Assert.Ignore("Mounting the stand-in tmpfs needs root.");
        }

#pragma warning disable CA2000 // Wrong: the mount owns the volume (TearDown unmounts it), and the volume owns its disks.
        var disk = MemoryDisk.WithNoise(1 << 20, canWrite: false);
        var mount = _fuse.Start(VolumeOver(disk, readOnly: true));
#pragma warning restore CA2000
        var open = File.OpenHandle(_fuse.DiskPath);
        try
        {
            var (detached, detachError) = FuseTestMount.Fusermount("-u", "-z", _fuse.Directory);
            Assert.That(detached, Is.Zero, detachError);
            Qcow2Mount.TestSupport.ExternalTool.Run("mount", ["-t", "tmpfs", "-o", "size=1m", "standin", _fuse.Directory]).EnsureSuccess();
            try
            {
                mount.Unmount(force: true);
                Assert.That(Qcow2Mount.TestSupport.ExternalTool.Run("findmnt", ["-n", "-o", "FSTYPE", _fuse.Directory]).StandardOutput.Trim(), Is.EqualTo("tmpfs"),
                    "the file system mounted there since is still mounted");
            }
            finally
            {
                Qcow2Mount.TestSupport.ExternalTool.Run("umount", [_fuse.Directory]);
            }
        }
        finally
        {
            open.Dispose();
        }

        Assert.That(mount.Unmounted.Wait(Patience), Is.True, "our loop ends, at the latest with the last close");
    }

    [Test]
    public void Mounting_on_a_missing_directory_is_NotFound_and_leaves_the_volume_to_the_caller()
    {
        var disk = MemoryDisk.WithNoise(4096);
        using var volume = VolumeOver(disk, readOnly: true);

        var failure = Assert.Throws<VolumeException>(() => _fuse.Host.Mount(volume, InMount("missing"), new MountOptions()))!;

        Assert.Multiple(() =>
        {
            Assert.That(failure.Code, Is.EqualTo(VolumeErrorCode.NotFound));
            Assert.That(failure.Message, Does.Contain("missing").And.Not.Contain("\n"));
            Assert.That(disk.IsDisposed, Is.False);
        });
    }

    [Test]
    public void Mounting_on_a_file_is_NotDirectory()
    {
        string file = Path.GetTempFileName();
        try
        {
            using var volume = VolumeOver(MemoryDisk.WithNoise(4096), readOnly: true);
            var failure = Assert.Throws<VolumeException>(() => _fuse.Host.Mount(volume, file, new MountOptions()))!;
            Assert.That(failure.Code, Is.EqualTo(VolumeErrorCode.NotDirectory));
        }
        finally
        {
            File.Delete(file);
        }
    }

    [Test]
    public void Mounting_on_a_directory_already_mounted_is_Busy()
    {
#pragma warning disable CA2000 // Wrong: the mount owns the first volume (TearDown unmounts it), and each volume owns its disk.
        _fuse.Start(VolumeOver(MemoryDisk.WithNoise(4096), readOnly: true));
        var second = MemoryDisk.WithNoise(4096);
        using var volume = VolumeOver(second, readOnly: true);
#pragma warning restore CA2000

        var failure = Assert.Throws<VolumeException>(() => _fuse.Host.Mount(volume, _fuse.Directory + "/", new MountOptions()))!;

        Assert.Multiple(() =>
        {
            Assert.That(failure.Code, Is.EqualTo(VolumeErrorCode.Busy));
            Assert.That(failure.Message, Does.Contain("already a mount point"));
            Assert.That(second.IsDisposed, Is.False);
            Assert.That(File.ReadAllBytes(_fuse.DiskPath), Has.Length.EqualTo(4096), "the first mount still serves");
        });
    }

    [Test]
    public void Rejected_fuse_options_are_a_clear_error_and_leave_nothing_mounted()
    {
        using var volume = VolumeOver(MemoryDisk.WithNoise(4096), readOnly: true);

        var failure = Assert.Throws<VolumeException>(() =>
            _fuse.Host.Mount(volume, _fuse.Directory, new MountOptions { FuseOptions = ["no_such_option"] }))!;

        Assert.Multiple(() =>
        {
            Assert.That(failure.Code, Is.EqualTo(VolumeErrorCode.InvalidArgument));
            Assert.That(FuseTestMount.IsMountPoint(_fuse.Directory), Is.False);
        });
    }
}
