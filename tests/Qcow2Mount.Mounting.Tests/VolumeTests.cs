using Qcow2Mount.Mounting.Tests.Doubles;
using Qcow2Mount.Qcow2;

namespace Qcow2Mount.Mounting.Tests;

internal sealed class VolumeTests
{
    private static readonly DateTimeOffset ImageTime = new(2024, 5, 6, 7, 8, 9, TimeSpan.Zero);

    private static Volume Writable(MemoryDisk disk, params SnapshotDisk[] snapshots) =>
        new(disk, new VolumeOptions { Label = "image", Timestamp = ImageTime }, snapshots);

    private static Volume ReadOnly(MemoryDisk disk, params SnapshotDisk[] snapshots) =>
        new(disk, new VolumeOptions { Label = "image", ReadOnly = true, Timestamp = ImageTime }, snapshots);

    private static VolumeErrorCode CodeOf(TestDelegate action) => Assert.Throws<VolumeException>(action)!.Code;

    [Test]
    public void Root_lists_disk_raw_only_when_there_are_no_snapshots()
    {
        using var volume = Writable(MemoryDisk.WithNoise(4096));

        Assert.That(volume.List("/").Select(n => n.Name), Is.EqualTo(new[] { "disk.raw" }));
        Assert.That(volume.Find("/snapshots"), Is.Null);
    }

    [Test]
    public void Snapshots_appear_as_read_only_files_in_a_snapshots_directory()
    {
        using var volume = Writable(MemoryDisk.WithNoise(4096), new SnapshotDisk("before-upgrade", MemoryDisk.WithNoise(2048, canWrite: false)));

        Assert.That(volume.List("/").Select(n => n.Name), Is.EqualTo(new[] { "disk.raw", "snapshots" }));
        var snapshot = volume.Lookup("/snapshots/before-upgrade.raw");
        Assert.Multiple(() =>
        {
            Assert.That(snapshot.IsReadOnly, Is.True);
            Assert.That(snapshot.Length, Is.EqualTo(2048));
            Assert.That(snapshot.Path, Is.EqualTo("/snapshots/before-upgrade.raw"));
            Assert.That(volume.Lookup("/disk.raw").IsReadOnly, Is.False);
        });
    }

    [Test]
    public void Attributes_come_from_the_disk_and_the_image_time()
    {
        using var writable = Writable(MemoryDisk.WithNoise(12345));
        using var readOnly = ReadOnly(MemoryDisk.WithNoise(512));
        var file = writable.Lookup("/disk.raw");

        Assert.Multiple(() =>
        {
            Assert.That(file.Length, Is.EqualTo(12345));
            Assert.That(writable.Timestamp, Is.EqualTo(ImageTime));
            Assert.That(file.Permissions, Is.EqualTo((UnixFileMode)Convert.ToInt32("644", 8)));
            Assert.That(writable.Root.Permissions, Is.EqualTo((UnixFileMode)Convert.ToInt32("755", 8)));
            Assert.That(readOnly.Lookup("/disk.raw").Permissions, Is.EqualTo((UnixFileMode)Convert.ToInt32("444", 8)));
            Assert.That(readOnly.Root.Permissions, Is.EqualTo((UnixFileMode)Convert.ToInt32("555", 8)));
            Assert.That(writable.Root.IsDirectory && !file.IsDirectory, Is.True);
        });
    }

    [Test]
    public void A_disk_that_cannot_write_makes_the_volume_read_only()
    {
        using var volume = Writable(MemoryDisk.WithNoise(512, canWrite: false));

        Assert.That(volume.IsReadOnly, Is.True);
    }

    [Test]
    public void Lookup_tells_missing_names_from_paths_through_a_file()
    {
        using var volume = Writable(MemoryDisk.WithNoise(512));

        Assert.Multiple(() =>
        {
            Assert.That(CodeOf(() => volume.Lookup("/nope")), Is.EqualTo(VolumeErrorCode.NotFound));
            Assert.That(CodeOf(() => volume.Lookup("/disk.raw/inner")), Is.EqualTo(VolumeErrorCode.NotDirectory));
            Assert.That(CodeOf(() => volume.List("/disk.raw")), Is.EqualTo(VolumeErrorCode.NotDirectory));
        });
    }

    [Test]
    public void Posix_lookups_are_case_sensitive_and_windows_lookups_are_not()
    {
        using var volume = Writable(MemoryDisk.WithNoise(512), new SnapshotDisk("s", MemoryDisk.WithNoise(512)));

        Assert.Multiple(() =>
        {
            Assert.That(volume.Find("/DISK.RAW"), Is.Null);
            Assert.That(volume.Find("/snapshots\\s.raw"), Is.Null, "a backslash is an ordinary character on POSIX");
            Assert.That(volume.Find("\\SNAPSHOTS\\S.RAW", PathStyle.Windows)?.Path, Is.EqualTo("/snapshots/s.raw"));
            Assert.That(volume.Find("", PathStyle.Windows), Is.SameAs(volume.Root));
        });
    }

    [Test]
    public void Reads_are_routed_to_the_disk_and_stop_at_its_end()
    {
        var disk = MemoryDisk.WithNoise(10_000);
        using var volume = Writable(disk);
        ulong handle = volume.Open("/disk.raw", VolumeAccess.Read);
        var buffer = new byte[4096];

        int inside = volume.Read(handle, 1000, buffer);
        int crossing = volume.Read(handle, 8000, buffer);
        int past = volume.Read(handle, 10_000, buffer);

        Assert.Multiple(() =>
        {
            Assert.That(inside, Is.EqualTo(4096));
            Assert.That(crossing, Is.EqualTo(2000));
            Assert.That(past, Is.Zero);
            Assert.That(buffer.AsSpan(0, 2000).ToArray(), Is.EqualTo(disk.Data.AsSpan(8000, 2000).ToArray()));
        });
    }

    [Test]
    public void Snapshot_reads_come_from_the_snapshot_disk()
    {
        var snapshot = MemoryDisk.WithNoise(4096, canWrite: false, seed: 7);
        using var volume = Writable(MemoryDisk.WithNoise(4096), new SnapshotDisk("old", snapshot));
        ulong handle = volume.Open("/snapshots/old.raw", VolumeAccess.Read);
        var buffer = new byte[100];

        volume.Read(handle, 50, buffer);

        Assert.That(buffer, Is.EqualTo(snapshot.Data.AsSpan(50, 100).ToArray()));
    }

    [Test]
    public void Writes_reach_the_disk_and_cannot_grow_the_file()
    {
        var disk = MemoryDisk.WithNoise(4096);
        using var volume = Writable(disk);
        ulong handle = volume.Open("/disk.raw", VolumeAccess.ReadWrite);
        byte[] data = [1, 2, 3, 4, 5, 6, 7, 8];

        int written = volume.Write(handle, 100, data);
        int cut = volume.Write(handle, 4092, data);

        Assert.Multiple(() =>
        {
            Assert.That(written, Is.EqualTo(8));
            Assert.That(disk.Data.AsSpan(100, 8).ToArray(), Is.EqualTo(data));
            Assert.That(cut, Is.EqualTo(4));
            Assert.That(disk.Data.AsSpan(4092, 4).ToArray(), Is.EqualTo(data[..4]));
            Assert.That(CodeOf(() => volume.Write(handle, 4096, data)), Is.EqualTo(VolumeErrorCode.NoSpace));
            Assert.That(CodeOf(() => volume.Write(handle, -1, data)), Is.EqualTo(VolumeErrorCode.InvalidArgument));
        });
    }

    [Test]
    public void Write_opens_are_refused_with_ReadOnly_on_a_read_only_volume_and_on_snapshots()
    {
        using var readOnly = ReadOnly(MemoryDisk.WithNoise(512));
        using var writable = Writable(MemoryDisk.WithNoise(512), new SnapshotDisk("s", MemoryDisk.WithNoise(512)));

        Assert.Multiple(() =>
        {
            Assert.That(CodeOf(() => readOnly.Open("/disk.raw", VolumeAccess.Write)), Is.EqualTo(VolumeErrorCode.ReadOnly));
            Assert.That(CodeOf(() => writable.Open("/snapshots/s.raw", VolumeAccess.ReadWrite)), Is.EqualTo(VolumeErrorCode.ReadOnly));
            Assert.That(CodeOf(() => writable.Open("/", VolumeAccess.Write)), Is.EqualTo(VolumeErrorCode.IsDirectory));
        });
    }

    [Test]
    public void Handles_only_do_what_they_were_opened_for()
    {
        using var volume = Writable(MemoryDisk.WithNoise(512));
        ulong reader = volume.Open("/disk.raw", VolumeAccess.Read);
        ulong writer = volume.Open("/disk.raw", VolumeAccess.Write);
        ulong directory = volume.Open("/", VolumeAccess.Read);
        var buffer = new byte[16];

        Assert.Multiple(() =>
        {
            Assert.That(CodeOf(() => volume.Write(reader, 0, buffer)), Is.EqualTo(VolumeErrorCode.AccessDenied));
            Assert.That(CodeOf(() => volume.Read(writer, 0, buffer)), Is.EqualTo(VolumeErrorCode.AccessDenied));
            Assert.That(CodeOf(() => volume.Read(directory, 0, buffer)), Is.EqualTo(VolumeErrorCode.IsDirectory));
            Assert.That(volume.NodeOf(writer).Name, Is.EqualTo("disk.raw"));
            Assert.That(volume.AccessOf(writer), Is.EqualTo(VolumeAccess.Write));
        });
    }

    [Test]
    public void Closed_handles_are_gone_and_ids_are_never_zero()
    {
        using var volume = Writable(MemoryDisk.WithNoise(512));
        ulong first = volume.Open("/disk.raw", VolumeAccess.Read);
        ulong second = volume.Open("/disk.raw", VolumeAccess.Read);

        volume.Close(first);

        Assert.Multiple(() =>
        {
            Assert.That(first, Is.Not.Zero);
            Assert.That(second, Is.Not.EqualTo(first));
            Assert.That(volume.OpenHandleCount, Is.EqualTo(1));
            Assert.That(CodeOf(() => volume.Read(first, 0, new byte[1])), Is.EqualTo(VolumeErrorCode.InvalidHandle));
            Assert.That(CodeOf(() => volume.Close(first)), Is.EqualTo(VolumeErrorCode.InvalidHandle));
        });
    }

    [Test]
    public void Share_modes_refuse_a_second_writer_when_the_first_did_not_share_write()
    {
        using var volume = Writable(MemoryDisk.WithNoise(512));
        ulong exclusiveWriter = volume.Open("/disk.raw", VolumeAccess.Write, VolumeShare.Read);

        Assert.Multiple(() =>
        {
            Assert.That(CodeOf(() => volume.Open("/disk.raw", VolumeAccess.Write)), Is.EqualTo(VolumeErrorCode.SharingViolation));
            Assert.That(volume.Open("/disk.raw", VolumeAccess.Read, VolumeShare.All), Is.Not.Zero, "reading was shared");
            Assert.That(volume.Open("/disk.raw", VolumeAccess.None, VolumeShare.None), Is.Not.Zero, "attribute-only opens never conflict");
        });

        volume.Close(exclusiveWriter);
        Assert.That(volume.Open("/disk.raw", VolumeAccess.Write), Is.Not.Zero, "the conflict ends with the handle");
    }

    [Test]
    public void Share_modes_refuse_a_new_handle_that_would_not_share_what_others_already_do()
    {
        using var volume = Writable(MemoryDisk.WithNoise(512));
        volume.Open("/disk.raw", VolumeAccess.Read, VolumeShare.All);

        Assert.Multiple(() =>
        {
            Assert.That(CodeOf(() => volume.Open("/disk.raw", VolumeAccess.Read, VolumeShare.Write)), Is.EqualTo(VolumeErrorCode.SharingViolation));
            Assert.That(volume.Open("/disk.raw", VolumeAccess.Read, VolumeShare.Read), Is.Not.Zero);
        });
    }

    [Test]
    public void Flush_flushes_the_disk_only_when_something_was_written()
    {
        var disk = MemoryDisk.WithNoise(512);
        using var volume = Writable(disk);
        ulong handle = volume.Open("/disk.raw", VolumeAccess.ReadWrite);

        volume.Flush(handle);
        int beforeWrite = disk.FlushCount;
        volume.Write(handle, 0, new byte[] { 9 });
        volume.Flush(handle);
        volume.Flush(handle);

        Assert.Multiple(() =>
        {
            Assert.That(beforeWrite, Is.Zero);
            Assert.That(disk.FlushCount, Is.EqualTo(1));
        });
    }

    /// <summary>
    /// Two fsyncs of the same write: the second arrives while the first one's flush is still running, and must not
    /// return before that flush has made the write durable.
    /// </summary>
    [Test]
    public void A_flush_waits_for_the_flush_already_running_for_its_writes()
    {
        var disk = MemoryDisk.WithNoise(512);
        using var gate = new ManualResetEventSlim();
        disk.FlushGate = gate;
        using var volume = Writable(disk);
        ulong first = volume.Open("/disk.raw", VolumeAccess.ReadWrite);
        ulong second = volume.Open("/disk.raw", VolumeAccess.ReadWrite);
        volume.Write(first, 0, new byte[] { 7 });

        var running = Task.Run(() => volume.Flush(first));
        Assert.That(disk.FlushStarted.Wait(TimeSpan.FromSeconds(10)), Is.True);
        var waiting = Task.Run(() => volume.Flush(second));
        bool returnedEarly = waiting.Wait(TimeSpan.FromMilliseconds(300));
        gate.Set();
        Task.WaitAll([running, waiting], TimeSpan.FromSeconds(10));

        Assert.Multiple(() =>
        {
            Assert.That(returnedEarly, Is.False, "the second fsync returned while the write was not yet durable");
            Assert.That(disk.FlushCount, Is.EqualTo(1), "the flush that finished covered both");
        });
    }

    [Test]
    public void ZeroRange_zeroes_within_the_file_counts_as_a_write_and_needs_write_access()
    {
        var disk = MemoryDisk.WithNoise(8192);
        byte[] original = (byte[])disk.Data.Clone();
        using var volume = Writable(disk);
        ulong reader = volume.Open("/disk.raw", VolumeAccess.Read);
        ulong writer = volume.Open("/disk.raw", VolumeAccess.ReadWrite);

        volume.ZeroRange(writer, 1000, 1000, deallocate: true);
        volume.ZeroRange(writer, 8000, 4096, deallocate: false); // cut at the end of the file
        volume.ZeroRange(writer, 9000, 10, deallocate: false);  // past it: nothing to do
        volume.Flush(writer);

        Assert.Multiple(() =>
        {
            Assert.That(disk.Data.AsSpan(1000, 1000).IndexOfAnyExcept((byte)0), Is.EqualTo(-1));
            Assert.That(disk.Data.AsSpan(8000, 192).IndexOfAnyExcept((byte)0), Is.EqualTo(-1));
            Assert.That(disk.Data.AsSpan(0, 1000).SequenceEqual(original.AsSpan(0, 1000)), Is.True, "bytes before the range are untouched");
            Assert.That(disk.Data.AsSpan(2000, 6000).SequenceEqual(original.AsSpan(2000, 6000)), Is.True, "bytes between the ranges are untouched");
            Assert.That(disk.FlushCount, Is.EqualTo(1), "zeroing is a write the next flush covers");
            Assert.That(CodeOf(() => volume.ZeroRange(reader, 0, 10, deallocate: true)), Is.EqualTo(VolumeErrorCode.AccessDenied));
        });
    }

    /// <summary>A write that finishes while a flush runs is not covered by it: the next fsync flushes again.</summary>
    [Test]
    public void A_write_finished_during_a_flush_is_flushed_by_the_next_one()
    {
        var disk = MemoryDisk.WithNoise(512);
        using var gate = new ManualResetEventSlim();
        disk.FlushGate = gate;
        using var volume = Writable(disk);
        ulong handle = volume.Open("/disk.raw", VolumeAccess.ReadWrite);
        volume.Write(handle, 0, new byte[] { 1 });

        var running = Task.Run(() => volume.Flush(handle));
        Assert.That(disk.FlushStarted.Wait(TimeSpan.FromSeconds(10)), Is.True);
        volume.Write(handle, 1, new byte[] { 2 });
        gate.Set();
        running.Wait(TimeSpan.FromSeconds(10));
        volume.Flush(handle);

        Assert.That(disk.FlushCount, Is.EqualTo(2));
    }

    [Test]
    public void A_failed_flush_is_never_retried_and_every_later_flush_fails_too()
    {
#pragma warning disable CA2000 // Wrong: the volume owns the disk, and Assert.Throws(volume.Dispose) below disposes the volume (its failure is the point).
        var disk = MemoryDisk.WithNoise(512);
        disk.FlushFailure = new Qcow2Exception(Qcow2ErrorCode.Io, "host EIO");
        var volume = Writable(disk);
#pragma warning restore CA2000
        ulong handle = volume.Open("/disk.raw", VolumeAccess.Write);
        volume.Write(handle, 0, new byte[] { 1 });

        var failure = Assert.Throws<VolumeException>(() => volume.Flush(handle))!;
        // The host recovers, but Linux may have dropped the pages it failed to write: a retry would say "durable".
        disk.FlushFailure = null;
        var again = Assert.Throws<VolumeException>(() => volume.Flush(handle))!;
        volume.Write(handle, 1, new byte[] { 2 });
        var afterWrite = Assert.Throws<VolumeException>(() => volume.Flush(handle))!;

        Assert.Multiple(() =>
        {
            Assert.That(failure.Code, Is.EqualTo(VolumeErrorCode.IoError));
            Assert.That(failure.Message, Is.EqualTo("host EIO"));
            Assert.That(again.Code, Is.EqualTo(VolumeErrorCode.IoError));
            Assert.That(again.Message, Does.StartWith("An earlier flush failed (host EIO)"));
            Assert.That(afterWrite.Code, Is.EqualTo(VolumeErrorCode.IoError));
            Assert.That(disk.FlushCount, Is.EqualTo(1), "the disk was not asked again");
        });

        // Unmounting reports the failure again and does not flush either (the engine then keeps the image dirty).
        var atClose = Assert.Throws<VolumeException>(volume.Dispose)!;
        Assert.Multiple(() =>
        {
            Assert.That(atClose.Message, Is.EqualTo("host EIO"));
            Assert.That(disk.FlushCount, Is.EqualTo(1));
            Assert.That(disk.IsDisposed, Is.True);
        });
    }

    [Test]
    public void FlushAll_needs_no_handle_and_flushes_only_unflushed_writes()
    {
        var disk = MemoryDisk.WithNoise(512);
        using var volume = Writable(disk);
        volume.FlushAll();
        ulong handle = volume.Open("/disk.raw", VolumeAccess.Write);
        volume.Write(handle, 0, new byte[] { 1 });
        volume.Close(handle);

        volume.FlushAll();
        volume.FlushAll();

        Assert.That(disk.FlushCount, Is.EqualTo(1), "one flush, for the one write");
    }

    [TestCase(28, VolumeErrorCode.NoSpace)]
    [TestCase(122, VolumeErrorCode.NoSpace)]
    [TestCase(5, VolumeErrorCode.IoError)]
    public void Host_io_errors_that_reach_the_volume_become_volume_errors(int errno, VolumeErrorCode expected)
    {
        if (OperatingSystem.IsWindows())
        {
            Assert.Ignore("errno values are the Linux ones.");
        }

#pragma warning disable CA2000 // Wrong: the volume owns the disk, and Assert.Throws(volume.Dispose) below disposes the volume (its failure is the point).
        var disk = MemoryDisk.WithNoise(512);
        disk.ReadFailure = new IOException("host says no\nsecond line", errno);
        disk.FlushFailure = new IOException("host says no", errno);
        var volume = Writable(disk);
#pragma warning restore CA2000
        ulong handle = volume.Open("/disk.raw", VolumeAccess.ReadWrite);
        volume.Write(handle, 0, new byte[] { 1 });

        var read = Assert.Throws<VolumeException>(() => volume.Read(handle, 0, new byte[16]))!;
        var flush = Assert.Throws<VolumeException>(() => volume.Flush(handle))!;

        Assert.Multiple(() =>
        {
            Assert.That(read.Code, Is.EqualTo(expected));
            Assert.That(read.Message, Does.Not.Contain("\n"), "one line");
            Assert.That(flush.Code, Is.EqualTo(expected));
        });
        Assert.Throws<VolumeException>(volume.Dispose, "unmount reports the failed flush");
    }

    [Test]
    public void A_full_host_disk_under_the_engine_is_no_space_too()
    {
#pragma warning disable CA2000 // Wrong: the volume owns the disk, and Assert.Throws(volume.Dispose) below disposes the volume (its failure is the point).
        var disk = MemoryDisk.WithNoise(512);
        disk.FlushFailure = new Qcow2Exception(Qcow2ErrorCode.Io, "image.qcow2: No space left on device", new IOException("No space left on device", 28));
        var volume = Writable(disk);
#pragma warning restore CA2000
        ulong handle = volume.Open("/disk.raw", VolumeAccess.Write);
        volume.Write(handle, 0, new byte[] { 1 });

        var failure = Assert.Throws<VolumeException>(() => volume.Flush(handle))!;
        Assert.That(failure.Code, Is.EqualTo(OperatingSystem.IsWindows() ? VolumeErrorCode.IoError : VolumeErrorCode.NoSpace));
        Assert.Throws<VolumeException>(volume.Dispose, "unmount reports the failed flush");
    }

    [Test]
    public void Engine_errors_during_reads_become_volume_errors()
    {
        var disk = MemoryDisk.WithNoise(512);
        disk.ReadFailure = new Qcow2Exception(Qcow2ErrorCode.Corrupt, "L2 entry points past the end");
        using var volume = Writable(disk);
        ulong handle = volume.Open("/disk.raw", VolumeAccess.Read);

        var failure = Assert.Throws<VolumeException>(() => volume.Read(handle, 0, new byte[16]))!;

        Assert.Multiple(() =>
        {
            Assert.That(failure.Code, Is.EqualTo(VolumeErrorCode.IoError));
            Assert.That(failure.InnerException, Is.SameAs(disk.ReadFailure));
        });
    }

    [TestCase(Qcow2ErrorCode.NotQcow2, VolumeErrorCode.IoError)]
    [TestCase(Qcow2ErrorCode.InvalidHeader, VolumeErrorCode.IoError)]
    [TestCase(Qcow2ErrorCode.Unsupported, VolumeErrorCode.NotSupported)]
    [TestCase(Qcow2ErrorCode.Corrupt, VolumeErrorCode.IoError)]
    [TestCase(Qcow2ErrorCode.MissingFile, VolumeErrorCode.IoError)]
    [TestCase(Qcow2ErrorCode.BackingChain, VolumeErrorCode.IoError)]
    [TestCase(Qcow2ErrorCode.ReadOnly, VolumeErrorCode.ReadOnly)]
    [TestCase(Qcow2ErrorCode.Locked, VolumeErrorCode.Busy)]
    [TestCase(Qcow2ErrorCode.SnapshotNotFound, VolumeErrorCode.NotFound)]
    [TestCase(Qcow2ErrorCode.InvalidArgument, VolumeErrorCode.InvalidArgument)]
    [TestCase(Qcow2ErrorCode.Io, VolumeErrorCode.IoError)]
    [TestCase(Qcow2ErrorCode.Password, VolumeErrorCode.AccessDenied)]
    public void Every_engine_error_code_has_one_volume_error_code(Qcow2ErrorCode engine, VolumeErrorCode expected)
    {
        Assert.That(VolumeException.FromEngine(new Qcow2Exception(engine, "x")).Code, Is.EqualTo(expected));
    }

    [Test]
    public void Every_engine_error_code_is_covered_by_the_cases_above()
    {
        Assert.That(Enum.GetValues<Qcow2ErrorCode>(), Has.Length.EqualTo(12), "add a TestCase for the new engine error code");
    }

    [Test]
    public void The_size_is_fixed_but_setting_it_to_itself_is_fine()
    {
        using var writable = Writable(MemoryDisk.WithNoise(4096));
        using var readOnly = ReadOnly(MemoryDisk.WithNoise(4096));
        var file = writable.Lookup("/disk.raw");

        writable.SetLength(file, 4096);

        Assert.Multiple(() =>
        {
            Assert.That(CodeOf(() => writable.SetLength(file, 0)), Is.EqualTo(VolumeErrorCode.NotSupported));
            Assert.That(CodeOf(() => writable.SetLength(file, 8192)), Is.EqualTo(VolumeErrorCode.NotSupported));
            Assert.That(CodeOf(() => writable.SetLength(file, -1)), Is.EqualTo(VolumeErrorCode.InvalidArgument));
            Assert.That(CodeOf(() => writable.SetLength(writable.Root, 0)), Is.EqualTo(VolumeErrorCode.IsDirectory));
            Assert.That(CodeOf(() => readOnly.SetLength(readOnly.Lookup("/disk.raw"), 4096)), Is.EqualTo(VolumeErrorCode.ReadOnly));
        });
    }

    [Test]
    public void Names_cannot_be_created_removed_or_changed_on_a_writable_volume()
    {
        using var volume = Writable(MemoryDisk.WithNoise(512), new SnapshotDisk("s", MemoryDisk.WithNoise(512)));

        Assert.Multiple(() =>
        {
            Assert.That(CodeOf(() => volume.CreateFile("/new.raw")), Is.EqualTo(VolumeErrorCode.AccessDenied));
            Assert.That(CodeOf(() => volume.CreateFile("/disk.raw")), Is.EqualTo(VolumeErrorCode.Exists));
            Assert.That(CodeOf(() => volume.CreateFile("/missing/new.raw")), Is.EqualTo(VolumeErrorCode.NotFound));
            Assert.That(CodeOf(() => volume.CreateFile("/disk.raw/new.raw")), Is.EqualTo(VolumeErrorCode.NotDirectory));
            Assert.That(CodeOf(() => volume.CreateDirectory("/snapshots")), Is.EqualTo(VolumeErrorCode.Exists));
            Assert.That(CodeOf(() => volume.CreateDirectory("/dir")), Is.EqualTo(VolumeErrorCode.AccessDenied));
            Assert.That(CodeOf(() => volume.Delete("/disk.raw")), Is.EqualTo(VolumeErrorCode.AccessDenied));
            Assert.That(CodeOf(() => volume.Delete("/snapshots")), Is.EqualTo(VolumeErrorCode.IsDirectory));
            Assert.That(CodeOf(() => volume.Delete("/gone")), Is.EqualTo(VolumeErrorCode.NotFound));
            Assert.That(CodeOf(() => volume.RemoveDirectory("/snapshots")), Is.EqualTo(VolumeErrorCode.AccessDenied));
            Assert.That(CodeOf(() => volume.RemoveDirectory("/disk.raw")), Is.EqualTo(VolumeErrorCode.NotDirectory));
            Assert.That(CodeOf(() => volume.Rename("/disk.raw", "/other.raw")), Is.EqualTo(VolumeErrorCode.AccessDenied));
            Assert.That(CodeOf(() => volume.Rename("/gone", "/other.raw")), Is.EqualTo(VolumeErrorCode.NotFound));
        });
    }

    [Test]
    public void Changes_to_names_on_a_read_only_volume_report_ReadOnly()
    {
        using var volume = ReadOnly(MemoryDisk.WithNoise(512));

        Assert.Multiple(() =>
        {
            Assert.That(CodeOf(() => volume.CreateFile("/new.raw")), Is.EqualTo(VolumeErrorCode.ReadOnly));
            Assert.That(CodeOf(() => volume.CreateDirectory("/dir")), Is.EqualTo(VolumeErrorCode.ReadOnly));
            Assert.That(CodeOf(() => volume.Delete("/disk.raw")), Is.EqualTo(VolumeErrorCode.ReadOnly));
            Assert.That(CodeOf(() => volume.Rename("/disk.raw", "/x")), Is.EqualTo(VolumeErrorCode.ReadOnly));
        });
    }

    [Test]
    public void Space_is_the_disk_size_with_nothing_free()
    {
        using var volume = Writable(MemoryDisk.WithNoise(1 << 20), new SnapshotDisk("s", MemoryDisk.WithNoise(512)));

        Assert.That(volume.GetSpace(), Is.EqualTo(new VolumeSpace(TotalBytes: 1 << 20, FreeBytes: 0, FileCount: 4)));
    }

    [Test]
    public void Dispose_flushes_a_writable_disk_and_disposes_every_disk()
    {
        var disk = MemoryDisk.WithNoise(512);
        var snapshot = MemoryDisk.WithNoise(512, canWrite: false);
        var volume = Writable(disk, new SnapshotDisk("s", snapshot));

        volume.Dispose();
        volume.Dispose();

        Assert.Multiple(() =>
        {
            Assert.That(disk.FlushCount, Is.EqualTo(1));
            Assert.That(disk.IsDisposed && snapshot.IsDisposed, Is.True);
            Assert.That(() => volume.Open("/disk.raw", VolumeAccess.Read), Throws.TypeOf<ObjectDisposedException>());
        });
    }

    [Test]
    public void Dispose_of_a_read_only_volume_does_not_flush()
    {
        var disk = MemoryDisk.WithNoise(512);
        ReadOnly(disk).Dispose();

        Assert.Multiple(() =>
        {
            Assert.That(disk.FlushCount, Is.Zero);
            Assert.That(disk.IsDisposed, Is.True);
        });
    }

    [Test]
    public void Dispose_still_disposes_the_disks_when_the_final_flush_fails()
    {
#pragma warning disable CA2000 // Wrong: the volume owns the disk, and Assert.Throws(volume.Dispose) below disposes the volume (its failure is the point).
        var disk = MemoryDisk.WithNoise(512);
        disk.FlushFailure = new Qcow2Exception(Qcow2ErrorCode.Io, "EIO on the host");
        var volume = Writable(disk);
#pragma warning restore CA2000

        var failure = Assert.Throws<VolumeException>(volume.Dispose)!;

        Assert.Multiple(() =>
        {
            Assert.That(failure.Code, Is.EqualTo(VolumeErrorCode.IoError));
            Assert.That(disk.IsDisposed, Is.True);
        });
    }

    [Test]
    public void Concurrent_readers_and_writers_on_different_ranges_all_land()
    {
        var disk = new MemoryDisk(new byte[1 << 20]);
        using var volume = Writable(disk);

        Parallel.For(0, 64, i =>
        {
            ulong handle = volume.Open("/disk.raw", VolumeAccess.ReadWrite);
            var block = Enumerable.Repeat((byte)(i + 1), 16384).ToArray();
            volume.Write(handle, i * 16384L, block);
            var back = new byte[16384];
            volume.Read(handle, i * 16384L, back);
            Assert.That(back, Is.EqualTo(block));
            volume.Close(handle);
        });

        Assert.That(volume.OpenHandleCount, Is.Zero);
    }
}
