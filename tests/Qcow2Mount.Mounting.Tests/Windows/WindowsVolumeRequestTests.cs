using Qcow2Mount.Mounting.Tests.Doubles;
using Qcow2Mount.Mounting.Windows;

namespace Qcow2Mount.Mounting.Tests.Windows;

/// <summary>The requests beyond open/read/write that WinFsp and Dokan send, answered by the platform-neutral volume.</summary>
internal sealed class WindowsVolumeRequestTests
{
    private static readonly DateTimeOffset ImageTime = new(2023, 1, 2, 3, 4, 5, TimeSpan.Zero);

    /// <summary>The volumes the running test made: a <see cref="WindowsVolume"/> does not own its volume, so TearDown disposes them.</summary>
    private readonly List<Volume> _volumes = [];

    [TearDown]
    public void DisposeVolumes()
    {
        _volumes.ForEach(volume => volume.Dispose());
        _volumes.Clear();
    }

    private WindowsVolume Make(bool readOnly, MemoryDisk? disk = null, string? imagePath = null, List<string>? log = null)
    {
        var volume = new Volume(disk ?? MemoryDisk.WithNoise(10_000), new VolumeOptions { ReadOnly = readOnly, Label = "disk", Timestamp = ImageTime, ImagePath = imagePath },
            [new SnapshotDisk("a", MemoryDisk.WithNoise(512, canWrite: false)), new SnapshotDisk("B", MemoryDisk.WithNoise(512, canWrite: false))]);
        _volumes.Add(volume);
        return new WindowsVolume(volume, "S-1-5-21-1-2-3-1001", log is null ? null : log.Add);
    }

    private static ulong Open(WindowsVolume volume, string path, WindowsAccess access)
    {
        var outcome = volume.Create(new WindowsCreateRequest(path, WindowsCreateDisposition.Open, access));
        Assert.That(outcome.Status, Is.EqualTo(NtStatus.Success));
        return outcome.Handle;
    }

    [Test]
    public void A_read_at_the_end_is_end_of_file_or_success_as_asked()
    {
        var volume = Make(true);
        ulong handle = Open(volume, @"\disk.raw", WindowsAccess.GenericRead);
        var buffer = new byte[10];

        Assert.Multiple(() =>
        {
            Assert.That(volume.Read(handle, 10_000, buffer, out _, WindowsEndOfFile.EndOfFileStatus), Is.EqualTo(NtStatus.EndOfFile));
            Assert.That(volume.Read(handle, 10_000, buffer, out _, WindowsEndOfFile.Success), Is.EqualTo(NtStatus.Success));
            Assert.That(volume.Read(handle, 9_995, buffer, out int tail, WindowsEndOfFile.EndOfFileStatus), Is.EqualTo(NtStatus.Success));
            Assert.That(tail, Is.EqualTo(5));
            Assert.That(volume.Read(handle, 10_000, [], out _, WindowsEndOfFile.EndOfFileStatus), Is.EqualTo(NtStatus.Success), "an empty read is no read past the end");
        });
    }

    [Test]
    public void The_serial_comes_from_the_image_path_not_the_label()
    {
        uint first = Make(true, imagePath: @"C:\vms\a\disk.qcow2").SerialNumber;
        uint second = Make(true, imagePath: @"C:\vms\b\disk.qcow2").SerialNumber;

        Assert.Multiple(() =>
        {
            Assert.That(second, Is.Not.EqualTo(first));
            Assert.That(Make(false, imagePath: @"C:\vms\a\disk.qcow2").SerialNumber, Is.EqualTo(first));
            Assert.That(Make(true).VolumeInfo.SerialNumber, Is.EqualTo(Make(true).SerialNumber), "without a path, the label");
        });
    }

    [Test]
    public void Four_times_last_write_follows_writes_to_the_active_disk_only()
    {
        var volume = Make(false);
        var disk = volume.Volume.Lookup("/disk.raw");
        var snapshot = volume.Volume.Lookup("/snapshots/a.raw");
        var before = volume.TimesOf(disk);
        ulong handle = Open(volume, @"\disk.raw", WindowsAccess.GenericWrite);
        volume.Write(handle, 0, new byte[] { 1 }, out _);
        var after = volume.TimesOf(disk);

        Assert.Multiple(() =>
        {
            Assert.That(before.LastWrite, Is.EqualTo(ImageTime));
            Assert.That(before.Change, Is.EqualTo(ImageTime));
            Assert.That(before.Creation, Is.EqualTo(ImageTime), "no image file: its mtime");
            Assert.That(before.LastAccess, Is.GreaterThan(ImageTime), "the mount started later");
            Assert.That(after.LastWrite, Is.GreaterThan(before.LastWrite));
            Assert.That(after.Change, Is.EqualTo(after.LastWrite));
            Assert.That(after.Creation, Is.EqualTo(before.Creation));
            Assert.That(volume.TimesOf(snapshot).LastWrite, Is.EqualTo(ImageTime));
        });
    }

    [Test]
    public void The_creation_time_is_the_image_files()
    {
        string path = Path.GetTempFileName();
        try
        {
            using var inner = new Volume(MemoryDisk.WithNoise(512), VolumeOptions.ForImage(path, readOnly: true));
            var volume = new WindowsVolume(inner);
            var created = new DateTimeOffset(File.GetCreationTimeUtc(path), TimeSpan.Zero);
            var times = volume.TimesOf(volume.Volume.Root);

            Assert.That(times.Creation, Is.EqualTo(created <= times.LastWrite ? created : times.LastWrite));
        }
        finally
        {
            File.Delete(path);
        }
    }

    [Test]
    public void Listings_resume_after_a_marker_and_show_dot_entries_below_the_root()
    {
        var volume = Make(true);

        Assert.Multiple(() =>
        {
            Assert.That(Names(volume, @"\snapshots", null, null, true), Is.EqualTo(new[] { ".", "..", "a.raw", "B.raw" }));
            Assert.That(Names(volume, @"\", null, null, true), Is.EqualTo(new[] { "disk.raw", "snapshots" }), "the root has none");
            Assert.That(Names(volume, @"\snapshots", null, "..", true), Is.EqualTo(new[] { "a.raw", "B.raw" }));
            Assert.That(Names(volume, @"\snapshots", null, "a.raw", true), Is.EqualTo(new[] { "B.raw" }));
            Assert.That(Names(volume, @"\snapshots", null, "aa", true), Is.EqualTo(new[] { "B.raw" }), "a marker that is not there");
            Assert.That(Names(volume, @"\snapshots", "b*", null, true), Is.EqualTo(new[] { "B.raw" }), "patterns filter dot entries too");
        });
    }

    [Test]
    public void Dot_entries_describe_the_directory_and_its_parent()
    {
        var volume = Make(true);
        volume.List(@"\snapshots", null, null, true, out var entries);

        Assert.Multiple(() =>
        {
            Assert.That(entries[0].IndexNumber, Is.EqualTo(volume.Volume.Lookup("/snapshots").Id));
            Assert.That(entries[1].IndexNumber, Is.EqualTo(volume.Volume.Root.Id));
            Assert.That(entries[0].Attributes, Is.EqualTo(FileAttributes.Directory));
        });
    }

    [TestCase(@"\disk.raw", @"\disk.raw", false, true)]
    [TestCase(@"\disk.raw::$DATA", @"\disk.raw", false, true)]
    [TestCase(@"\disk.raw::$data", @"\disk.raw", false, true)]
    [TestCase(@"\disk.raw:Zone.Identifier", @"\disk.raw", true, true)]
    [TestCase(@"\disk.raw:Zone.Identifier:$DATA", @"\disk.raw", true, true)]
    [TestCase(@"\disk.raw:", @"\disk.raw", false, false)]
    [TestCase(@"\disk.raw:x:$INDEX_ALLOCATION", @"\disk.raw", true, false)]
    public void Stream_names_are_split_from_file_names(string name, string path, bool named, bool valid)
    {
        Assert.Multiple(() =>
        {
            Assert.That(WindowsVolume.TrySplitStream(name, out string split, out bool isNamed), Is.EqualTo(valid));
            Assert.That(split, Is.EqualTo(path));
            Assert.That(isNamed, Is.EqualTo(named));
        });
    }

    [Test]
    public void Security_by_name_answers_like_an_open_would()
    {
        var volume = Make(true);

        Assert.Multiple(() =>
        {
            Assert.That(volume.GetSecurityByName(@"\DISK.raw", out var attributes, out var descriptor), Is.EqualTo(NtStatus.Success));
            Assert.That(attributes, Is.EqualTo(FileAttributes.Archive | FileAttributes.ReadOnly));
            Assert.That(descriptor, Is.SameAs(volume.Security.DescriptorFor(writable: false)));
            Assert.That(volume.GetSecurityByName(@"\nope.raw", out _, out _), Is.EqualTo(NtStatus.ObjectNameNotFound));
            Assert.That(volume.GetSecurityByName(@"\nope\x.raw", out _, out _), Is.EqualTo(NtStatus.ObjectPathNotFound));
            Assert.That(volume.GetSecurityByName(@"\disk.raw:ads", out _, out _), Is.EqualTo(NtStatus.ObjectNameNotFound));
            Assert.That(volume.GetSecurityByName(@"\snapshots", out var directory, out _), Is.EqualTo(NtStatus.Success));
            Assert.That(directory, Is.EqualTo(FileAttributes.Directory));
        });
    }

    [Test]
    public void Only_the_writable_active_disk_gets_write_rights()
    {
        var writable = Make(false);
        var readOnly = Make(true);

        Assert.Multiple(() =>
        {
            Assert.That(writable.SecurityOf(writable.Volume.Lookup("/disk.raw")), Is.SameAs(writable.Security.DescriptorFor(true)));
            Assert.That(writable.SecurityOf(writable.Volume.Lookup("/snapshots/a.raw")), Is.SameAs(writable.Security.DescriptorFor(false)));
            Assert.That(writable.SecurityOf(writable.Volume.Root), Is.SameAs(writable.Security.DescriptorFor(false)));
            Assert.That(readOnly.SecurityOf(readOnly.Volume.Lookup("/disk.raw")), Is.SameAs(readOnly.Security.DescriptorFor(false)));
            Assert.That(writable.GetSecurity(999, out _), Is.EqualTo(NtStatus.InvalidHandle));
        });
    }

    [TestCase(true, NtStatus.MediaWriteProtected)]
    [TestCase(false, NtStatus.AccessDenied)]
    public void Deletes_renames_overwrites_and_security_changes_are_refused(bool readOnly, NtStatus refused)
    {
        var volume = Make(readOnly);
        ulong file = Open(volume, @"\disk.raw", WindowsAccess.GenericRead);
        ulong directory = Open(volume, @"\snapshots", WindowsAccess.GenericRead);

        Assert.Multiple(() =>
        {
            Assert.That(volume.CanDelete(file), Is.EqualTo(refused));
            Assert.That(volume.CanDelete(directory), Is.EqualTo(refused));
            Assert.That(volume.Rename(file), Is.EqualTo(refused));
            Assert.That(volume.Overwrite(file), Is.EqualTo(refused));
            Assert.That(volume.Overwrite(directory), Is.EqualTo(NtStatus.InvalidParameter));
            Assert.That(volume.SetSecurity(file), Is.EqualTo(refused));
            Assert.That(volume.SetBasicInfo(file), Is.EqualTo(readOnly ? NtStatus.MediaWriteProtected : NtStatus.Success));
            Assert.That(volume.CanDelete(12345), Is.EqualTo(NtStatus.InvalidHandle));
        });
    }

    [Test]
    public void Zero_data_zeroes_inside_the_disk_and_checks_its_range()
    {
        var disk = MemoryDisk.WithNoise(10_000);
        byte[] original = disk.Data.ToArray();
        var volume = Make(false, disk);
        ulong handle = Open(volume, @"\disk.raw", WindowsAccess.GenericWrite);
        ulong reader = Open(volume, @"\disk.raw", WindowsAccess.GenericRead);

        Assert.Multiple(() =>
        {
            Assert.That(volume.ZeroData(handle, 100, 200), Is.EqualTo(NtStatus.Success));
            Assert.That(disk.Data.AsSpan(100, 100).ContainsAnyExcept((byte)0), Is.False);
            Assert.That((disk.Data[99], disk.Data[200]), Is.EqualTo((original[99], original[200])), "outside the range is untouched");
            Assert.That(volume.ZeroData(handle, 9_000, long.MaxValue), Is.EqualTo(NtStatus.Success), "cut at the end");
            Assert.That(volume.ZeroData(handle, 200, 100), Is.EqualTo(NtStatus.InvalidParameter));
            Assert.That(volume.ZeroData(handle, -1, 100), Is.EqualTo(NtStatus.InvalidParameter));
            Assert.That(volume.ZeroData(reader, 0, 10), Is.EqualTo(NtStatus.AccessDenied));
        });
    }

    [Test]
    public void Cleanup_flushes_writers_and_a_volume_flush_covers_every_write()
    {
        var disk = MemoryDisk.WithNoise(10_000);
        var volume = Make(false, disk);
        ulong reader = Open(volume, @"\disk.raw", WindowsAccess.GenericRead);
        ulong writer = Open(volume, @"\disk.raw", WindowsAccess.GenericWrite);
        volume.Write(writer, 0, new byte[] { 1 }, out _);

        Assert.That(volume.Cleanup(reader), Is.EqualTo(NtStatus.Success));
        int afterReader = disk.FlushCount;
        Assert.That(volume.Cleanup(writer), Is.EqualTo(NtStatus.Success));
        int afterWriter = disk.FlushCount;
        volume.Write(writer, 0, new byte[] { 2 }, out _);

        Assert.Multiple(() =>
        {
            Assert.That(afterReader, Is.Zero);
            Assert.That(afterWriter, Is.EqualTo(1));
            Assert.That(volume.FlushVolume(), Is.EqualTo(NtStatus.Success));
            Assert.That(disk.FlushCount, Is.EqualTo(2));
        });
    }

    [Test]
    public void Unexpected_exceptions_become_a_device_error_and_one_log_line()
    {
        var log = new List<string>();
        var disk = MemoryDisk.WithNoise(10_000);
        var volume = Make(true, disk, log: log);
        ulong handle = Open(volume, @"\disk.raw", WindowsAccess.GenericRead);
        disk.ReadFailure = new InvalidOperationException("oops");

        Assert.Multiple(() =>
        {
            Assert.That(volume.Read(handle, 0, new byte[10], out _), Is.EqualTo(NtStatus.IoDeviceError));
            Assert.That(log, Is.EqualTo(new[] { "Read failed unexpectedly: InvalidOperationException: oops" }));
            Assert.That(volume.Read(999, 0, new byte[10], out _), Is.EqualTo(NtStatus.InvalidHandle));
            Assert.That(log, Has.Count.EqualTo(1), "a volume error is an answer, not a bug");
        });
    }

    [Test]
    public void A_mount_asked_to_be_read_only_refuses_changes_on_a_writable_volume()
    {
        using var inner = new Volume(MemoryDisk.WithNoise(10_000), new VolumeOptions());
        var volume = new WindowsVolume(inner, readOnly: true);
        var disk = volume.Volume.Lookup("/disk.raw");
        var maximum = volume.Create(new WindowsCreateRequest(@"\disk.raw", WindowsCreateDisposition.Open, WindowsAccess.MaximumAllowed));

        Assert.Multiple(() =>
        {
            Assert.That(volume.Volume.IsReadOnly, Is.False);
            Assert.That(volume.IsReadOnly, Is.True);
            Assert.That(volume.VolumeInfo.Flags.HasFlag(WindowsVolumeFlags.ReadOnlyVolume), Is.True);
            Assert.That(volume.Create(new WindowsCreateRequest(@"\disk.raw", WindowsCreateDisposition.Open, WindowsAccess.GenericWrite)).Status,
                Is.EqualTo(NtStatus.MediaWriteProtected));
            Assert.That(maximum.Status, Is.EqualTo(NtStatus.Success), "maximum allowed gets what a read-only mount allows");
            Assert.That(volume.Volume.AccessOf(maximum.Handle), Is.EqualTo(VolumeAccess.Read));
            Assert.That(volume.InfoOf(disk).Attributes.HasFlag(FileAttributes.ReadOnly), Is.True);
            Assert.That(volume.SecurityOf(disk), Is.SameAs(volume.Security.DescriptorFor(writable: false)));
        });
    }

    private static string[] Names(WindowsVolume volume, string directory, string? pattern, string? marker, bool dots)
    {
        Assert.That(volume.List(directory, pattern, marker, dots, out var entries), Is.EqualTo(NtStatus.Success));
        return entries.Select(e => e.Name).ToArray();
    }
}
