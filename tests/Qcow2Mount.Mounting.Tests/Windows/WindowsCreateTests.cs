using Qcow2Mount.Mounting.Tests.Doubles;
using Qcow2Mount.Mounting.Windows;
using static Qcow2Mount.Mounting.Windows.WindowsCreateDisposition;

namespace Qcow2Mount.Mounting.Tests.Windows;

internal sealed class WindowsCreateTests
{
    /// <summary>The volumes the running test made: a <see cref="WindowsVolume"/> does not own its volume, so TearDown disposes them.</summary>
    private readonly List<Volume> _volumes = [];

    [TearDown]
    public void DisposeVolumes()
    {
        _volumes.ForEach(volume => volume.Dispose());
        _volumes.Clear();
    }

    private WindowsVolume Volume(bool readOnly)
    {
        var volume = new Volume(MemoryDisk.WithNoise(4096),
            new VolumeOptions { ReadOnly = readOnly }, [new SnapshotDisk("old", MemoryDisk.WithNoise(4096, canWrite: false))]);
        _volumes.Add(volume);
        return new WindowsVolume(volume);
    }

    private NtStatus Status(bool readOnly, string name, WindowsCreateDisposition disposition, WindowsAccess access,
        WindowsCreateOptions options = WindowsCreateOptions.None) =>
        Volume(readOnly).Create(new WindowsCreateRequest(name, disposition, access, WindowsShareAccess.All, options)).Status;

    [TestCase(Open, NtStatus.Success)]
    [TestCase(OpenIf, NtStatus.Success)]
    [TestCase(Create, NtStatus.ObjectNameCollision)]
    [TestCase(Overwrite, NtStatus.MediaWriteProtected)]
    [TestCase(OverwriteIf, NtStatus.MediaWriteProtected)]
    [TestCase(Supersede, NtStatus.MediaWriteProtected)]
    public void Existing_disk_raw_on_a_read_only_volume(WindowsCreateDisposition disposition, NtStatus expected)
    {
        Assert.That(Status(readOnly: true, "\\disk.raw", disposition, WindowsAccess.GenericRead), Is.EqualTo(expected));
    }

    [TestCase(Open, NtStatus.Success)]
    [TestCase(OpenIf, NtStatus.Success)]
    [TestCase(Create, NtStatus.ObjectNameCollision)]
    [TestCase(Overwrite, NtStatus.AccessDenied)]
    [TestCase(OverwriteIf, NtStatus.AccessDenied)]
    [TestCase(Supersede, NtStatus.AccessDenied)]
    public void Existing_disk_raw_on_a_writable_volume(WindowsCreateDisposition disposition, NtStatus expected)
    {
        Assert.That(Status(readOnly: false, "\\disk.raw", disposition, WindowsAccess.GenericRead | WindowsAccess.GenericWrite), Is.EqualTo(expected));
    }

    [TestCase(Open, false, NtStatus.ObjectNameNotFound)]
    [TestCase(Overwrite, false, NtStatus.ObjectNameNotFound)]
    [TestCase(Create, false, NtStatus.AccessDenied)]
    [TestCase(OpenIf, false, NtStatus.AccessDenied)]
    [TestCase(OverwriteIf, false, NtStatus.AccessDenied)]
    [TestCase(Supersede, false, NtStatus.AccessDenied)]
    [TestCase(Open, true, NtStatus.ObjectNameNotFound)]
    [TestCase(Create, true, NtStatus.MediaWriteProtected)]
    [TestCase(OpenIf, true, NtStatus.MediaWriteProtected)]
    [TestCase(OverwriteIf, true, NtStatus.MediaWriteProtected)]
    [TestCase(Supersede, true, NtStatus.MediaWriteProtected)]
    public void A_new_file_is_never_created(WindowsCreateDisposition disposition, bool readOnly, NtStatus expected)
    {
        Assert.That(Status(readOnly, "\\new.txt", disposition, WindowsAccess.GenericWrite), Is.EqualTo(expected));
    }

    [Test]
    public void A_missing_parent_is_path_not_found()
    {
        Assert.That(Status(false, "\\missing\\new.txt", Create, WindowsAccess.GenericWrite), Is.EqualTo(NtStatus.ObjectPathNotFound));
    }

    [Test]
    public void A_new_directory_is_never_created()
    {
        Assert.Multiple(() =>
        {
            Assert.That(Status(false, "\\dir", Create, WindowsAccess.GenericRead, WindowsCreateOptions.DirectoryFile), Is.EqualTo(NtStatus.AccessDenied));
            Assert.That(Status(true, "\\dir", Create, WindowsAccess.GenericRead, WindowsCreateOptions.DirectoryFile), Is.EqualTo(NtStatus.MediaWriteProtected));
            Assert.That(Status(false, "\\snapshots", Create, WindowsAccess.GenericRead, WindowsCreateOptions.DirectoryFile), Is.EqualTo(NtStatus.ObjectNameCollision));
        });
    }

    [TestCase(WindowsAccess.GenericWrite)]
    [TestCase(WindowsAccess.WriteData)]
    [TestCase(WindowsAccess.AppendData)]
    [TestCase(WindowsAccess.WriteAttributes)]
    [TestCase(WindowsAccess.Delete)]
    [TestCase(WindowsAccess.GenericAll)]
    public void Any_write_access_to_disk_raw_on_a_read_only_volume_is_media_write_protected(WindowsAccess access)
    {
        Assert.That(Status(true, "\\disk.raw", Open, access), Is.EqualTo(NtStatus.MediaWriteProtected));
    }

    [Test]
    public void Writable_volume_grants_read_and_write_but_never_delete()
    {
        Assert.Multiple(() =>
        {
            Assert.That(Status(false, "\\disk.raw", Open, WindowsAccess.GenericRead | WindowsAccess.GenericWrite), Is.EqualTo(NtStatus.Success));
            Assert.That(Status(false, "\\disk.raw", Open, WindowsAccess.Delete), Is.EqualTo(NtStatus.AccessDenied));
            Assert.That(Status(false, "\\disk.raw", Open, WindowsAccess.ReadData, WindowsCreateOptions.DeleteOnClose), Is.EqualTo(NtStatus.AccessDenied));
        });
    }

    [Test]
    public void Snapshot_files_on_a_writable_volume_open_for_reading_only()
    {
        Assert.Multiple(() =>
        {
            Assert.That(Status(false, "\\snapshots\\old.raw", Open, WindowsAccess.GenericRead), Is.EqualTo(NtStatus.Success));
            Assert.That(Status(false, "\\snapshots\\old.raw", Open, WindowsAccess.GenericWrite), Is.EqualTo(NtStatus.AccessDenied));
            Assert.That(Status(false, "\\snapshots\\old.raw", Open, WindowsAccess.WriteAttributes), Is.EqualTo(NtStatus.Success),
                "like NTFS, a read-only file's attributes may still be written");
        });
    }

    [Test]
    public void Maximum_allowed_gets_write_only_where_writing_is_possible()
    {
        var writable = Volume(readOnly: false);
        var readOnly = Volume(readOnly: true);
        var request = new WindowsCreateRequest("\\disk.raw", Open, WindowsAccess.MaximumAllowed);

        var granted = writable.Create(request);
        var limited = readOnly.Create(request);

        Assert.Multiple(() =>
        {
            Assert.That(writable.Volume.AccessOf(granted.Handle), Is.EqualTo(VolumeAccess.ReadWrite));
            Assert.That(readOnly.Volume.AccessOf(limited.Handle), Is.EqualTo(VolumeAccess.Read));
        });
    }

    [Test]
    public void Directory_and_file_options_must_match_the_target()
    {
        Assert.Multiple(() =>
        {
            Assert.That(Status(false, "\\disk.raw", Open, WindowsAccess.GenericRead, WindowsCreateOptions.DirectoryFile), Is.EqualTo(NtStatus.NotADirectory));
            Assert.That(Status(false, "\\snapshots", Open, WindowsAccess.GenericRead, WindowsCreateOptions.NonDirectoryFile), Is.EqualTo(NtStatus.FileIsADirectory));
            Assert.That(Status(false, "\\snapshots", Open, WindowsAccess.GenericRead, WindowsCreateOptions.DirectoryFile), Is.EqualTo(NtStatus.Success));
            Assert.That(Status(false, "\\", Open, WindowsAccess.GenericRead, WindowsCreateOptions.DirectoryFile), Is.EqualTo(NtStatus.Success));
            Assert.That(Status(false, "\\disk.raw", Open, WindowsAccess.GenericRead,
                WindowsCreateOptions.DirectoryFile | WindowsCreateOptions.NonDirectoryFile), Is.EqualTo(NtStatus.InvalidParameter));
            Assert.That(Status(false, "\\snapshots", OverwriteIf, WindowsAccess.GenericRead), Is.EqualTo(NtStatus.InvalidParameter));
            Assert.That(Status(false, "\\disk.raw", (WindowsCreateDisposition)6, WindowsAccess.GenericRead), Is.EqualTo(NtStatus.InvalidParameter));
        });
    }

    [Test]
    public void Directories_on_a_writable_volume_open_with_add_file_access_but_not_on_a_read_only_one()
    {
        Assert.Multiple(() =>
        {
            Assert.That(Status(false, "\\snapshots", Open, WindowsAccess.WriteData), Is.EqualTo(NtStatus.Success));
            Assert.That(Status(true, "\\snapshots", Open, WindowsAccess.WriteData), Is.EqualTo(NtStatus.MediaWriteProtected));
        });
    }

    [Test]
    public void Names_are_found_without_regard_to_case()
    {
        var outcome = Volume(false).Create(new WindowsCreateRequest("\\SNAPSHOTS\\OLD.RAW", Open, WindowsAccess.GenericRead));

        Assert.Multiple(() =>
        {
            Assert.That(outcome.Succeeded, Is.True);
            Assert.That(outcome.Action, Is.EqualTo(WindowsCreateAction.Opened));
            Assert.That(outcome.Node?.Path, Is.EqualTo("/snapshots/old.raw"));
        });
    }

    [Test]
    public void A_second_writer_is_a_sharing_violation_when_the_first_did_not_share_write()
    {
        var volume = Volume(false);
        var first = volume.Create(new WindowsCreateRequest("\\disk.raw", Open, WindowsAccess.GenericRead | WindowsAccess.GenericWrite, WindowsShareAccess.Read));

        var secondWriter = volume.Create(new WindowsCreateRequest("\\disk.raw", Open, WindowsAccess.GenericWrite, WindowsShareAccess.All));
        var reader = volume.Create(new WindowsCreateRequest("\\disk.raw", Open, WindowsAccess.GenericRead, WindowsShareAccess.All));
        var readerNotSharingWrite = volume.Create(new WindowsCreateRequest("\\disk.raw", Open, WindowsAccess.GenericRead, WindowsShareAccess.Read));
        var attributesOnly = volume.Create(new WindowsCreateRequest("\\disk.raw", Open, WindowsAccess.ReadAttributes, WindowsShareAccess.None));

        Assert.Multiple(() =>
        {
            Assert.That(first.Status, Is.EqualTo(NtStatus.Success));
            Assert.That(secondWriter.Status, Is.EqualTo(NtStatus.SharingViolation));
            Assert.That(reader.Status, Is.EqualTo(NtStatus.Success));
            Assert.That(readerNotSharingWrite.Status, Is.EqualTo(NtStatus.SharingViolation), "the first handle writes");
            Assert.That(attributesOnly.Status, Is.EqualTo(NtStatus.Success));
        });

        Assert.That(volume.Close(first.Handle), Is.EqualTo(NtStatus.Success));
        Assert.That(volume.Create(new WindowsCreateRequest("\\disk.raw", Open, WindowsAccess.GenericWrite, WindowsShareAccess.All)).Status,
            Is.EqualTo(NtStatus.Success));
    }
}
