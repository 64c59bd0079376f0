using Qcow2Mount.Mounting.Windows;

namespace Qcow2Mount.Mounting.Tests.Windows;

/// <summary>The Windows mount-point forms, with a machine described by hand: C: and D: in use, a few folders.</summary>
[TestFixture]
internal sealed class MountPointsTests
{
    [TestCase("M", 'M')]
    [TestCase("m:", 'M')]
    [TestCase(@"M:\", 'M')]
    [TestCase("M:/", 'M')]
    [TestCase("  q:  ", 'Q')]
    public void Drive_letter_forms_name_the_letter(string text, char letter) =>
        Assert.That(MountPoints.DriveLetterOf(text), Is.EqualTo(letter));

    [TestCase("")]
    [TestCase("MM")]
    [TestCase("M:x")]
    [TestCase(@"M:\x")]
    [TestCase("1:")]
    [TestCase(@"\\.\M:")]
    public void Other_text_is_not_a_drive_letter(string text) =>
        Assert.That(MountPoints.DriveLetterOf(text), Is.Null);

    [Test]
    public void Next_free_letter_counts_down_from_Z_like_WinFsp()
    {
        Assert.That(MountPoints.NextFreeLetter(new HashSet<char>()), Is.EqualTo('Z'));
        Assert.That(MountPoints.NextFreeLetter(new HashSet<char> { 'C', 'Z', 'Y' }), Is.EqualTo('X'));
        // Wine maps Z: to the Linux root: the next one is Y:.
        Assert.That(MountPoints.NextFreeLetter(new HashSet<char> { 'C', 'Z' }), Is.EqualTo('Y'));
    }

    [Test]
    public void Next_free_letter_never_takes_A_B_or_C_and_may_find_none()
    {
        var allButAbc = new HashSet<char>(MountPoints.SearchOrder);
        Assert.That(MountPoints.NextFreeLetter(allButAbc), Is.Null);
        var ex = Assert.Throws<VolumeException>(() => MountPoints.Resolve(null, new FakeMachine(allButAbc)));
        Assert.That(ex!.Code, Is.EqualTo(VolumeErrorCode.Busy));
        Assert.That(ex.Message, Does.Contain("No drive letter from Z: down to D: is free"));
    }

    [TestCase(null)]
    [TestCase("")]
    [TestCase(" ")]
    [TestCase("*")]
    public void Nothing_or_a_star_takes_the_next_free_letter(string? text)
    {
        var mountPoint = MountPoints.Resolve(text, new FakeMachine(['C', 'D', 'Z']));
        Assert.That(mountPoint.Kind, Is.EqualTo(WindowsMountPointKind.DriveLetter));
        Assert.That(mountPoint.Path, Is.EqualTo("Y:"));
        Assert.That(mountPoint.Letter, Is.EqualTo('Y'));
    }

    [Test]
    public void A_free_letter_is_taken_as_written_in_upper_case()
    {
        var mountPoint = MountPoints.Resolve(@"m:\", new FakeMachine(['C']));
        Assert.That(mountPoint, Is.EqualTo(new WindowsMountPoint(WindowsMountPointKind.DriveLetter, "M:")));
    }

    [Test]
    public void A_letter_in_use_is_refused_as_busy()
    {
        var ex = Assert.Throws<VolumeException>(() => MountPoints.Resolve("d:", new FakeMachine(['C', 'D'])));
        Assert.That(ex!.Code, Is.EqualTo(VolumeErrorCode.Busy));
        Assert.That(ex.Message, Is.EqualTo("Drive D: is in use; name a free letter, or none for the next free one (Z: downwards)."));
    }

    [Test]
    public void An_empty_ntfs_folder_is_a_mount_point()
    {
        var machine = new FakeMachine(['C']) { Directories = { @"C:\mnt", @"C:\mnt\disk" } };
        var mountPoint = MountPoints.Resolve(@"c:/mnt//disk\", machine);
        Assert.That(mountPoint, Is.EqualTo(new WindowsMountPoint(WindowsMountPointKind.Folder, @"C:\mnt\disk", FolderExists: true)));
        Assert.That(() => mountPoint.Letter, Throws.InvalidOperationException);
    }

    [Test]
    public void A_missing_folder_in_an_existing_one_is_a_mount_point()
    {
        var machine = new FakeMachine(['C']) { Directories = { @"C:\mnt" } };
        Assert.That(MountPoints.Resolve(@"C:\mnt\new", machine),
            Is.EqualTo(new WindowsMountPoint(WindowsMountPointKind.Folder, @"C:\mnt\new", FolderExists: false)));
        Assert.That(MountPoints.Resolve(@"C:\top", machine).Path, Is.EqualTo(@"C:\top"), "a folder right under the root");
    }

    [Test]
    public void A_folder_with_entries_is_busy()
    {
        var machine = new FakeMachine(['C']) { Directories = { @"C:\mnt", @"C:\mnt\full" }, NonEmpty = { @"C:\mnt\full" } };
        var ex = Assert.Throws<VolumeException>(() => MountPoints.Resolve(@"C:\mnt\full", machine));
        Assert.That(ex!.Code, Is.EqualTo(VolumeErrorCode.Busy));
        Assert.That(ex.Message, Does.Contain("is not empty"));
    }

    [Test]
    public void A_file_is_not_a_folder()
    {
        var machine = new FakeMachine(['C']) { Directories = { @"C:\mnt" }, Files = { @"C:\mnt\disk.raw" } };
        var ex = Assert.Throws<VolumeException>(() => MountPoints.Resolve(@"C:\mnt\disk.raw", machine));
        Assert.That(ex!.Code, Is.EqualTo(VolumeErrorCode.NotDirectory));
    }

    [Test]
    public void A_missing_parent_is_not_found()
    {
        var ex = Assert.Throws<VolumeException>(() => MountPoints.Resolve(@"C:\nowhere\disk", new FakeMachine(['C'])));
        Assert.That(ex!.Code, Is.EqualTo(VolumeErrorCode.NotFound));
        Assert.That(ex.Message, Does.Contain(@"the folder 'C:\nowhere' that would hold it does not exist"));
    }

    [Test]
    public void A_folder_on_FAT_is_refused_and_the_file_system_named()
    {
        var machine = new FakeMachine(['C', 'E']) { Directories = { @"E:\stick" }, FileSystem = "FAT32" };
        var ex = Assert.Throws<VolumeException>(() => MountPoints.Resolve(@"E:\stick", machine));
        Assert.That(ex!.Code, Is.EqualTo(VolumeErrorCode.NotSupported));
        Assert.That(ex.Message, Does.Contain("FAT32 volume").And.Contain("must be on NTFS"));
    }

    [TestCase(@"\\server\share\mnt", "network or device path")]
    [TestCase(@"\\.\M:", "network or device path")]
    [TestCase(@"mnt\disk", "not a full path")]
    [TestCase(@"\mnt\disk", "not a full path")]
    [TestCase(@"C:mnt", "not a full path")]
    [TestCase(@"C:\mnt\..\disk", "does not allow")]
    [TestCase(@"C:\mnt\a?b", "does not allow")]
    public void Other_forms_are_invalid_arguments_that_list_the_accepted_ones(string text, string reason)
    {
        var ex = Assert.Throws<VolumeException>(() => MountPoints.Resolve(text, new FakeMachine(['C']) { Directories = { @"C:\mnt" } }));
        Assert.That(ex!.Code, Is.EqualTo(VolumeErrorCode.InvalidArgument));
        Assert.That(ex.Message, Does.Contain(reason));
        Assert.That(ex.Message, Does.Not.Contain(Environment.NewLine));
    }

    [Test]
    public void A_drive_root_written_as_a_folder_is_its_letter()
    {
        var ex = Assert.Throws<VolumeException>(() => MountPoints.Resolve(@"C:\\", new FakeMachine(['C'])));
        Assert.That(ex!.Code, Is.EqualTo(VolumeErrorCode.Busy), "C: is in use");
        Assert.That(MountPoints.Resolve(@"N:\", new FakeMachine(['C'])).Path, Is.EqualTo("N:"));
    }

    private sealed class FakeMachine(IEnumerable<char> usedLetters) : IMountPointProbe
    {
        public HashSet<string> Directories { get; } = new(StringComparer.OrdinalIgnoreCase) { @"C:\" };
        public HashSet<string> Files { get; } = new(StringComparer.OrdinalIgnoreCase);
        public HashSet<string> NonEmpty { get; } = new(StringComparer.OrdinalIgnoreCase);
        public string? FileSystem { get; init; } = "NTFS";

        public IReadOnlySet<char> UsedDriveLetters() => new HashSet<char>(usedLetters);

        public PathState StateOf(string fullPath) =>
            Directories.Contains(fullPath) ? PathState.Directory : Files.Contains(fullPath) ? PathState.File : PathState.Missing;

        public bool IsEmptyDirectory(string fullPath) => !NonEmpty.Contains(fullPath);

        public string? FileSystemOf(string fullPath) => FileSystem;
    }
}
