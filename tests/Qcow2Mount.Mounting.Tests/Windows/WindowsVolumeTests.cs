using Qcow2Mount.Mounting.Tests.Doubles;
using Qcow2Mount.Mounting.Windows;
using Qcow2Mount.Qcow2;

namespace Qcow2Mount.Mounting.Tests.Windows;

internal sealed class WindowsVolumeTests
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

    private WindowsVolume Make(bool readOnly, MemoryDisk? disk = null, string label = "debian-12")
    {
        var volume = new Volume(disk ?? MemoryDisk.WithNoise(10_000), new VolumeOptions { ReadOnly = readOnly, Label = label, Timestamp = ImageTime },
            [new SnapshotDisk("Before Upgrade", MemoryDisk.WithNoise(4096, canWrite: false)), new SnapshotDisk("clean", MemoryDisk.WithNoise(4096, canWrite: false))]);
        _volumes.Add(volume);
        return new WindowsVolume(volume);
    }

    [Test]
    public void Volume_info_names_the_image_and_flags_read_only()
    {
        var readOnly = Make(readOnly: true).VolumeInfo;
        var writable = Make(readOnly: false).VolumeInfo;

        Assert.Multiple(() =>
        {
            Assert.That(readOnly.Label, Is.EqualTo("debian-12"));
            Assert.That(readOnly.FileSystemName, Is.EqualTo("Qcow2Mount"));
            Assert.That(readOnly.SectorSize, Is.EqualTo(512));
            Assert.That(readOnly.TotalBytes, Is.EqualTo(10_000));
            Assert.That(readOnly.FreeBytes, Is.Zero);
            Assert.That(readOnly.Flags.HasFlag(WindowsVolumeFlags.ReadOnlyVolume), Is.True);
            Assert.That(writable.Flags.HasFlag(WindowsVolumeFlags.ReadOnlyVolume), Is.False);
            Assert.That(writable.Flags.HasFlag(WindowsVolumeFlags.CasePreservedNames), Is.True);
            Assert.That(writable.Flags.HasFlag(WindowsVolumeFlags.CaseSensitiveSearch), Is.False);
            Assert.That(writable.SerialNumber, Is.EqualTo(readOnly.SerialNumber), "same image, same serial");
        });
    }

    [Test]
    public void Labels_are_cut_to_the_32_characters_windows_allows()
    {
        Assert.That(Make(false, label: new string('L', 40)).VolumeInfo.Label, Has.Length.EqualTo(32));
    }

    [Test]
    public void Listing_matches_patterns_without_regard_to_case_in_name_order()
    {
        var volume = Make(false);

        Assert.Multiple(() =>
        {
            Assert.That(Names(volume, "\\snapshots", null), Is.EqualTo(new[] { "Before Upgrade.raw", "clean.raw" }));
            Assert.That(Names(volume, "\\snapshots", "C*"), Is.EqualTo(new[] { "clean.raw" }));
            Assert.That(Names(volume, "\\", "*.RAW"), Is.EqualTo(new[] { "disk.raw" }));
            Assert.That(Names(volume, "\\", "????.raw"), Is.EqualTo(new[] { "disk.raw" }));
            Assert.That(Names(volume, "\\", "*"), Is.EqualTo(new[] { "disk.raw", "snapshots" }));
            Assert.That(Names(volume, "\\", "nothing*"), Is.Empty);
        });
    }

    [Test]
    public void Listing_a_file_or_a_missing_directory_fails_with_the_right_status()
    {
        var volume = Make(false);

        Assert.Multiple(() =>
        {
            Assert.That(volume.List("\\disk.raw", null, out _), Is.EqualTo(NtStatus.NotADirectory));
            Assert.That(volume.List("\\nope", null, out _), Is.EqualTo(NtStatus.ObjectNameNotFound));
        });
    }

    [Test]
    public void File_info_shows_read_only_snapshots_sizes_and_the_image_time()
    {
        var volume = Make(false);
        var disk = volume.InfoOf(volume.Volume.Lookup("/disk.raw"));
        var snapshot = volume.InfoOf(volume.Volume.Lookup("/snapshots/clean.raw"));
        var directory = volume.InfoOf(volume.Volume.Root);

        Assert.Multiple(() =>
        {
            Assert.That(disk.Attributes, Is.EqualTo(FileAttributes.Archive));
            Assert.That(disk.Size, Is.EqualTo(10_000));
            Assert.That(disk.AllocationSize, Is.EqualTo(12_288));
            Assert.That(disk.Times.LastWrite, Is.EqualTo(ImageTime));
            Assert.That(snapshot.Attributes, Is.EqualTo(FileAttributes.Archive | FileAttributes.ReadOnly));
            Assert.That(directory.Attributes, Is.EqualTo(FileAttributes.Directory));
        });
    }

    [Test]
    public void Data_operations_return_nt_statuses()
    {
        var disk = MemoryDisk.WithNoise(10_000);
        var volume = Make(false, disk);
        ulong handle = volume.Create(new WindowsCreateRequest("\\disk.raw", WindowsCreateDisposition.Open,
            WindowsAccess.GenericRead | WindowsAccess.GenericWrite)).Handle;
        var buffer = new byte[100];

        Assert.Multiple(() =>
        {
            Assert.That(volume.Write(handle, 10, new byte[] { 1, 2, 3 }, out int written), Is.EqualTo(NtStatus.Success));
            Assert.That(written, Is.EqualTo(3));
            Assert.That(volume.Read(handle, 10, buffer, out int read), Is.EqualTo(NtStatus.Success));
            Assert.That((read, buffer[0], buffer[2]), Is.EqualTo((100, (byte)1, (byte)3)));
            Assert.That(volume.Read(handle, 10_000, buffer, out int atEnd), Is.EqualTo(NtStatus.Success));
            Assert.That(atEnd, Is.Zero);
            Assert.That(volume.Write(handle, 10_000, buffer, out _), Is.EqualTo(NtStatus.DiskFull));
            Assert.That(volume.Flush(handle), Is.EqualTo(NtStatus.Success));
            Assert.That(disk.FlushCount, Is.EqualTo(1));
            Assert.That(volume.SetFileSize(handle, 10_000), Is.EqualTo(NtStatus.Success));
            Assert.That(volume.SetFileSize(handle, 0), Is.EqualTo(NtStatus.NotSupported));
            Assert.That(volume.GetFileInfo(handle, out var info), Is.EqualTo(NtStatus.Success));
            Assert.That(info.Name, Is.EqualTo("disk.raw"));
            Assert.That(volume.Close(handle), Is.EqualTo(NtStatus.Success));
            Assert.That(volume.Read(handle, 0, buffer, out _), Is.EqualTo(NtStatus.InvalidHandle));
        });
    }

    [Test]
    public void A_failing_disk_is_an_io_device_error()
    {
        var disk = MemoryDisk.WithNoise(4096);
        var volume = Make(true, disk);
        ulong handle = volume.Create(new WindowsCreateRequest("\\disk.raw", WindowsCreateDisposition.Open, WindowsAccess.GenericRead)).Handle;
        disk.ReadFailure = new Qcow2Exception(Qcow2ErrorCode.Corrupt, "bad L2");

        Assert.That(volume.Read(handle, 0, new byte[10], out _), Is.EqualTo(NtStatus.IoDeviceError));
    }

    private static string[] Names(WindowsVolume volume, string directory, string? pattern)
    {
        Assert.That(volume.List(directory, pattern, out var entries), Is.EqualTo(NtStatus.Success));
        return entries.Select(e => e.Name).ToArray();
    }
}
