using System.Runtime.InteropServices;
using Qcow2Mount.Mounting;
using Qcow2Mount.Mounting.Tests.Doubles;
using Qcow2Mount.Mounting.Windows;
using Qcow2Mount.Qcow2;

namespace Qcow2Mount.Adapters.Tests.Contract;

/// <summary>
/// What Explorer, cmd, robocopy, certutil and forensic tools do to a mounted image, asked of each adapter through
/// its driver-facing callbacks. One suite, both adapters: they must answer alike (except where their drivers
/// expect different things, which the driver says).
/// </summary>
[TestFixture(typeof(WinFspDriver))]
[TestFixture(typeof(DokanDriver))]
internal sealed unsafe class AdapterContractTests<TDriver> where TDriver : AdapterDriver, new()
{
    private const string Owner = "S-1-5-21-1004336348-1177238915-682003330-1001";
    private const int DiskSize = 1 << 20;
    private static readonly DateTimeOffset ImageTime = new(2024, 5, 6, 7, 8, 9, TimeSpan.Zero);

    private MemoryDisk _disk = null!;
    private WindowsVolume _volume = null!;
    private TDriver _driver = null!;
    private readonly List<string> _log = [];

    private void Mount(bool readOnly, string imagePath = @"C:\images\debian-12.qcow2")
    {
        _disk = MemoryDisk.WithNoise(DiskSize);
        var volume = new Volume(_disk, new VolumeOptions { ReadOnly = readOnly, Label = "debian-12", Timestamp = ImageTime, ImagePath = imagePath },
            [new SnapshotDisk("clean", MemoryDisk.WithNoise(4096, canWrite: false)), new SnapshotDisk("Before", MemoryDisk.WithNoise(4096, canWrite: false))]);
        _volume = new WindowsVolume(volume, Owner, _log.Add);
        _driver = new TDriver();
        _driver.Attach(_volume);
    }

    [TearDown]
    public void Dispose()
    {
        _volume?.Volume.Dispose(); // disposes the disks too
        _disk?.Dispose();
    }

    private object OpenDisk(WindowsAccess access, WindowsShareAccess share = WindowsShareAccess.Read)
    {
        Assert.That(_driver.Open(@"\disk.raw", WindowsCreateDisposition.Open, access, share, directory: false, out var file), Is.EqualTo(NtStatus.Success));
        return file!;
    }

    [Test]
    public void Volume_information_names_the_image_and_its_size([Values] bool readOnly)
    {
        Mount(readOnly);
        var info = _driver.VolumeInfo();

        Assert.Multiple(() =>
        {
            Assert.That(info.Label, Is.EqualTo("debian-12"));
            Assert.That(info.TotalBytes, Is.EqualTo(DiskSize));
            Assert.That(info.FreeBytes, Is.Zero);
            Assert.That(info.ReadOnly, Is.EqualTo(readOnly));
        });
    }

    [Test]
    public void Two_images_with_the_same_name_get_different_serials()
    {
        Mount(true, @"C:\a\disk.qcow2");
        uint first = _driver.VolumeInfo().SerialNumber;
        _volume.Volume.Dispose();
        Mount(true, @"D:\b\disk.qcow2");
        uint second = _driver.VolumeInfo().SerialNumber;
        _volume.Volume.Dispose();
        Mount(true, @"C:\a\disk.qcow2");

        Assert.Multiple(() =>
        {
            Assert.That(second, Is.Not.EqualTo(first));
            Assert.That(_driver.VolumeInfo().SerialNumber, Is.EqualTo(first), "the same image keeps its serial");
        });
    }

    [TestCase(true, WindowsCreateDisposition.Open, NtStatus.Success)]
    [TestCase(true, WindowsCreateDisposition.OpenIf, NtStatus.Success)]
    [TestCase(true, WindowsCreateDisposition.Create, NtStatus.ObjectNameCollision)]
    [TestCase(true, WindowsCreateDisposition.Overwrite, NtStatus.MediaWriteProtected)]
    [TestCase(true, WindowsCreateDisposition.OverwriteIf, NtStatus.MediaWriteProtected)]
    [TestCase(true, WindowsCreateDisposition.Supersede, NtStatus.MediaWriteProtected)]
    [TestCase(false, WindowsCreateDisposition.Open, NtStatus.Success)]
    [TestCase(false, WindowsCreateDisposition.OpenIf, NtStatus.Success)]
    [TestCase(false, WindowsCreateDisposition.Create, NtStatus.ObjectNameCollision)]
    [TestCase(false, WindowsCreateDisposition.Overwrite, NtStatus.AccessDenied)]
    [TestCase(false, WindowsCreateDisposition.OverwriteIf, NtStatus.AccessDenied)]
    [TestCase(false, WindowsCreateDisposition.Supersede, NtStatus.AccessDenied)]
    public void Opening_disk_raw_with_each_disposition(bool readOnly, WindowsCreateDisposition disposition, NtStatus expected)
    {
        Mount(readOnly);
        var status = _driver.Open(@"\DISK.RAW", disposition, WindowsAccess.GenericRead, WindowsShareAccess.Read, false, out var file);
        if (file is not null)
        {
            _driver.Close(file);
        }

        Assert.That(status, Is.EqualTo(expected));
    }

    [TestCase(true, WindowsCreateDisposition.Open, NtStatus.ObjectNameNotFound)]
    [TestCase(true, WindowsCreateDisposition.Create, NtStatus.MediaWriteProtected)]
    [TestCase(true, WindowsCreateDisposition.OpenIf, NtStatus.MediaWriteProtected)]
    [TestCase(false, WindowsCreateDisposition.Open, NtStatus.ObjectNameNotFound)]
    [TestCase(false, WindowsCreateDisposition.Create, NtStatus.AccessDenied)]
    [TestCase(false, WindowsCreateDisposition.OverwriteIf, NtStatus.AccessDenied)]
    public void New_files_are_never_created(bool readOnly, WindowsCreateDisposition disposition, NtStatus expected)
    {
        Mount(readOnly);

        Assert.Multiple(() =>
        {
            Assert.That(_driver.Open(@"\notes.txt", disposition, WindowsAccess.GenericRead | WindowsAccess.GenericWrite, WindowsShareAccess.Read, false, out _),
                Is.EqualTo(expected));
            Assert.That(_driver.Open(@"\no\such\file", WindowsCreateDisposition.Open, WindowsAccess.GenericRead, WindowsShareAccess.Read, false, out _),
                Is.EqualTo(NtStatus.ObjectPathNotFound));
        });
    }

    [Test]
    public void Write_access_on_a_read_only_mount_is_media_write_protected()
    {
        Mount(readOnly: true);

        Assert.That(_driver.Open(@"\disk.raw", WindowsCreateDisposition.Open, WindowsAccess.GenericWrite, WindowsShareAccess.Read, false, out _),
            Is.EqualTo(NtStatus.MediaWriteProtected));
    }

    [TestCase(0, 4096)]
    [TestCase(12_345, 777)]
    [TestCase(DiskSize - 100, 4096)]
    [TestCase(DiskSize - 1, 1)]
    public void Reads_at_any_offset_return_the_disk_bytes(long offset, int length)
    {
        Mount(readOnly: true);
        var file = OpenDisk(WindowsAccess.GenericRead);
        var buffer = new byte[length];
        NtStatus status;
        int read;
        fixed (byte* p = buffer)
        {
            status = _driver.Read(file, offset, p, length, out read);
        }

        int expected = (int)Math.Min(length, DiskSize - offset);
        Assert.Multiple(() =>
        {
            Assert.That(status, Is.EqualTo(NtStatus.Success));
            Assert.That(read, Is.EqualTo(expected));
            Assert.That(buffer.AsSpan(0, read).SequenceEqual(_disk.Data.AsSpan((int)offset, expected)), Is.True);
        });
    }

    [TestCase(DiskSize)]
    [TestCase(DiskSize + 4096L)]
    [TestCase(long.MaxValue / 2)]
    public void A_read_at_or_past_the_end_answers_what_the_driver_expects(long offset)
    {
        Mount(readOnly: true);
        var file = OpenDisk(WindowsAccess.GenericRead);
        byte* buffer = stackalloc byte[512];

        Assert.Multiple(() =>
        {
            Assert.That(_driver.Read(file, offset, buffer, 512, out int read), Is.EqualTo(_driver.EndOfFileStatus));
            Assert.That(read, Is.Zero);
        });
    }

    [Test]
    public void Writes_land_in_the_disk_and_a_flush_makes_them_durable()
    {
        Mount(readOnly: false);
        var file = OpenDisk(WindowsAccess.GenericRead | WindowsAccess.GenericWrite);
        byte[] data = [1, 2, 3, 4, 5];
        _driver.GetInfo(file, out var before);

        NtStatus write, flush, pastEnd, crossing;
        int written, cut;
        fixed (byte* p = data)
        {
            write = _driver.Write(file, 1000, p, data.Length, out written);
            flush = _driver.Flush(file);
            pastEnd = _driver.Write(file, DiskSize, p, data.Length, out _);
            crossing = _driver.Write(file, DiskSize - 2, p, data.Length, out cut);
        }

        _driver.GetInfo(file, out var after);
        Assert.Multiple(() =>
        {
            Assert.That((write, written), Is.EqualTo((NtStatus.Success, 5)));
            Assert.That(_disk.Data.AsSpan(1000, 5).ToArray(), Is.EqualTo(data));
            Assert.That(flush, Is.EqualTo(NtStatus.Success));
            Assert.That(_disk.FlushCount, Is.EqualTo(1));
            Assert.That(pastEnd, Is.EqualTo(NtStatus.DiskFull), "the disk never grows");
            Assert.That((crossing, cut), Is.EqualTo((NtStatus.Success, 2)), "a write crossing the end is cut short");
            Assert.That(after.LastWrite, Is.GreaterThan(before.LastWrite), "a write moves the last-write time");
            Assert.That(after.Creation, Is.LessThanOrEqualTo(after.LastWrite));
            Assert.That(after.LastAccess, Is.GreaterThanOrEqualTo(after.LastWrite));
        });
    }

    [Test]
    public void Closing_a_file_that_was_written_flushes_it()
    {
        Mount(readOnly: false);
        var file = OpenDisk(WindowsAccess.GenericRead | WindowsAccess.GenericWrite);
        byte value = 9;
        _driver.Write(file, 0, &value, 1, out _);
        _driver.Close(file);

        Assert.That(_disk.FlushCount, Is.EqualTo(1));
    }

    [Test]
    public void A_volume_wide_flush_covers_every_write()
    {
        Mount(readOnly: false);
        var file = OpenDisk(WindowsAccess.GenericWrite);
        byte value = 7;
        _driver.Write(file, 0, &value, 1, out _);

        Assert.Multiple(() =>
        {
            Assert.That(_driver.Flush(null), Is.EqualTo(NtStatus.Success));
            Assert.That(_disk.FlushCount, Is.EqualTo(1));
        });
    }

    [Test]
    public void File_information_shows_size_attributes_and_times([Values] bool readOnly)
    {
        Mount(readOnly);
        var file = OpenDisk(WindowsAccess.GenericRead);
        Assert.That(_driver.Open(@"\snapshots\clean.raw", WindowsCreateDisposition.Open, WindowsAccess.GenericRead, WindowsShareAccess.Read, false, out var snapshot),
            Is.EqualTo(NtStatus.Success));

        _driver.GetInfo(file, out var disk);
        _driver.GetInfo(snapshot!, out var clean);
        Assert.Multiple(() =>
        {
            Assert.That(disk.Size, Is.EqualTo(DiskSize));
            Assert.That(disk.Attributes, Is.EqualTo(FileAttributes.Archive | (readOnly ? FileAttributes.ReadOnly : 0)));
            Assert.That(disk.LastWrite, Is.EqualTo(ImageTime.UtcDateTime));
            Assert.That(clean.Attributes.HasFlag(FileAttributes.ReadOnly), Is.True);
            Assert.That(clean.Size, Is.EqualTo(4096));
            Assert.That(clean.Index, Is.Not.EqualTo(disk.Index));
        });
    }

    [Test]
    public void Listing_matches_wildcards_in_name_order()
    {
        Mount(readOnly: true);
        Assert.That(_driver.Open(@"\", WindowsCreateDisposition.Open, WindowsAccess.GenericRead, WindowsShareAccess.All, true, out var root), Is.EqualTo(NtStatus.Success));
        Assert.That(_driver.Open(@"\snapshots", WindowsCreateDisposition.Open, WindowsAccess.GenericRead, WindowsShareAccess.All, true, out var snapshots), Is.EqualTo(NtStatus.Success));
        string[] dots = _driver.ListsDotEntries ? [".", ".."] : [];

        Assert.Multiple(() =>
        {
            Assert.That(Names(root!, "*"), Is.EqualTo(new[] { "disk.raw", "snapshots" }), "no dot entries at the root");
            Assert.That(Names(root!, "*.RAW"), Is.EqualTo(new[] { "disk.raw" }));
            Assert.That(Names(snapshots!, "*"), Is.EqualTo(dots.Concat(["Before.raw", "clean.raw"])));
            Assert.That(Names(snapshots!, "C*"), Is.EqualTo(new[] { "clean.raw" }));
            Assert.That(Names(snapshots!, "<.raw"), Is.EqualTo(new[] { "Before.raw", "clean.raw" }), "DOS_STAR");
            Assert.That(Names(snapshots!, "nothing*"), Is.Empty);
        });
    }

    [Test]
    public void Opening_a_file_as_a_directory_or_a_directory_as_a_file_fails()
    {
        Mount(readOnly: true);

        Assert.That(_driver.Open(@"\disk.raw", WindowsCreateDisposition.Open, WindowsAccess.GenericRead, WindowsShareAccess.All, true, out _),
            Is.EqualTo(NtStatus.NotADirectory));
    }

    [Test]
    public void Security_is_the_fixed_descriptor_of_the_mounting_user([Values] bool readOnly)
    {
        Mount(readOnly);
        var file = OpenDisk(WindowsAccess.GenericRead | WindowsAccess.ReadControl);
        Assert.That(_driver.Open(@"\snapshots\clean.raw", WindowsCreateDisposition.Open, WindowsAccess.ReadControl, WindowsShareAccess.Read, false, out var snapshot),
            Is.EqualTo(NtStatus.Success));

        Assert.Multiple(() =>
        {
            Assert.That(_driver.GetSecurity(file, out var descriptor), Is.EqualTo(NtStatus.Success));
            Assert.That(descriptor, Is.EqualTo(_volume.Security.DescriptorFor(writable: !readOnly)));
            Assert.That(_driver.GetSecurity(snapshot!, out var snapshotDescriptor), Is.EqualTo(NtStatus.Success));
            Assert.That(snapshotDescriptor, Is.EqualTo(_volume.Security.DescriptorFor(writable: false)), "snapshots are never writable");
        });
    }

    [Test]
    public void Deletes_renames_and_resizes_are_refused([Values] bool readOnly)
    {
        Mount(readOnly);
        var file = OpenDisk(WindowsAccess.GenericRead);
        var refused = readOnly ? NtStatus.MediaWriteProtected : NtStatus.AccessDenied;

        Assert.Multiple(() =>
        {
            Assert.That(_driver.Delete(file), Is.EqualTo(refused));
            Assert.That(_driver.Rename(file, @"\other.raw"), Is.EqualTo(refused));
            Assert.That(_driver.SetSize(file, 0), Is.EqualTo(readOnly ? NtStatus.MediaWriteProtected : NtStatus.NotSupported));
            Assert.That(_driver.SetTimes(file), Is.EqualTo(readOnly ? NtStatus.MediaWriteProtected : NtStatus.Success));
            Assert.That(_driver.Open(@"\disk.raw", WindowsCreateDisposition.Open, WindowsAccess.Delete, WindowsShareAccess.All, false, out _),
                Is.EqualTo(refused));
        });
    }

    [Test]
    public void Alternate_streams_do_not_exist()
    {
        Mount(readOnly: false);

        Assert.Multiple(() =>
        {
            Assert.That(_driver.Open(@"\disk.raw:Zone.Identifier", WindowsCreateDisposition.Open, WindowsAccess.GenericRead, WindowsShareAccess.All, false, out _),
                Is.EqualTo(NtStatus.ObjectNameNotFound));
            Assert.That(_driver.Open(@"\disk.raw:Zone.Identifier:$DATA", WindowsCreateDisposition.OpenIf, WindowsAccess.GenericWrite, WindowsShareAccess.All, false, out _),
                Is.EqualTo(NtStatus.AccessDenied));
            Assert.That(_driver.Open(@"\disk.raw::$DATA", WindowsCreateDisposition.Open, WindowsAccess.GenericRead, WindowsShareAccess.All, false, out var file),
                Is.EqualTo(NtStatus.Success), "the unnamed stream is the file");
            _driver.Close(file!);
        });
    }

    [Test]
    public void A_failing_disk_is_a_device_error_and_an_unexpected_exception_a_logged_one()
    {
        Mount(readOnly: true);
        var file = OpenDisk(WindowsAccess.GenericRead);
        byte* buffer = stackalloc byte[16];

        _disk.ReadFailure = new Qcow2Exception(Qcow2ErrorCode.Corrupt, "bad L2 table");
        var engine = _driver.Read(file, 0, buffer, 16, out _);
        int loggedAfterEngine = _log.Count;
        _disk.ReadFailure = new InvalidOperationException("a bug");
        var bug = _driver.Read(file, 0, buffer, 16, out _);

        Assert.Multiple(() =>
        {
            Assert.That(engine, Is.EqualTo(NtStatus.IoDeviceError));
            Assert.That(loggedAfterEngine, Is.Zero, "the image's own errors are not bugs");
            Assert.That(bug, Is.EqualTo(NtStatus.IoDeviceError));
            Assert.That(_log, Has.Count.EqualTo(1).And.Some.Contains("InvalidOperationException: a bug"));
        });
    }

    [Test]
    public void Parallel_readers_each_get_their_own_bytes()
    {
        Mount(readOnly: true);
        var failures = new System.Collections.Concurrent.ConcurrentBag<string>();
        Parallel.For(0, 8, new ParallelOptions { MaxDegreeOfParallelism = 8 }, reader =>
        {
            var file = OpenDisk(WindowsAccess.GenericRead, WindowsShareAccess.Read);
            var buffer = new byte[4096];
            for (int i = 0; i < 64; i++)
            {
                long offset = (reader * 64 + i) * 4096L % DiskSize;
                fixed (byte* p = buffer)
                {
                    if (_driver.Read(file, offset, p, buffer.Length, out int read) != NtStatus.Success || read != buffer.Length
                        || !buffer.AsSpan().SequenceEqual(_disk.Data.AsSpan((int)offset, read)))
                    {
                        failures.Add($"reader {reader} at {offset}");
                    }
                }
            }

            _driver.Close(file);
        });

        Assert.Multiple(() =>
        {
            Assert.That(failures, Is.Empty);
            Assert.That(_volume.Volume.OpenHandleCount, Is.Zero);
        });
    }

    [Test]
    public void Reads_allocate_nothing()
    {
        Mount(readOnly: true);
        var file = OpenDisk(WindowsAccess.GenericRead);
        const int Length = 64 << 10;
        byte* buffer = (byte*)NativeMemory.Alloc(Length);
        try
        {
            for (int i = 0; i < 16; i++)
            {
                _driver.Read(file, i * 4096L, buffer, Length, out _); // warm up: JIT, tiering, first-call caches
            }

            long before = GC.GetAllocatedBytesForCurrentThread();
            for (int i = 0; i < 1000; i++)
            {
                _driver.Read(file, i * 512L % (DiskSize - Length), buffer, Length, out _);
            }

            long allocated = GC.GetAllocatedBytesForCurrentThread() - before;
            Assert.That(allocated, Is.Zero, $"{allocated} bytes allocated over 1000 reads");
        }
        finally
        {
            NativeMemory.Free(buffer);
        }
    }

    private string[] Names(object directory, string? pattern)
    {
        Assert.That(_driver.List(directory, pattern, out var names), Is.EqualTo(NtStatus.Success));
        return names.ToArray();
    }
}
