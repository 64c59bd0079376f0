using NUnit.Framework;
using Qcow2Mount.Qcow2.Storage;

namespace Qcow2Mount.Qcow2.Tests.Storage;

[TestFixture]
internal class FileIdentityTests
{
    private string _dir = "";

    [SetUp]
    public void SetUp() => _dir = Directory.CreateTempSubdirectory("fileid-").FullName;

    [TearDown]
    public void TearDown() => Directory.Delete(_dir, recursive: true);

    [Test]
    public void Windows_identity_is_volume_serial_and_both_halves_of_the_file_index()
    {
        var id = FileIdentity.FromWindowsInformation(0xDEAD_BEEF, 0x0001_0002, 0x0003_0004, 0x20 /* archive */, FileIdentity.FileTypeDisk);
        Assert.That(id, Is.EqualTo(new FileIdentity(0xDEAD_BEEF, 0x0001_0002_0003_0004, IsRegularFile: true)));
    }

    [TestCase(FileIdentity.AttributeDirectory, FileIdentity.FileTypeDisk, false, TestName = "a directory is not a regular file")]
    [TestCase(0x80u /* normal */, 0x0002u /* FILE_TYPE_CHAR */, false, TestName = "a character device (NUL) is not")]
    [TestCase(0x80u, 0x0003u /* FILE_TYPE_PIPE */, false, TestName = "a pipe is not")]
    [TestCase(0x80u, FileIdentity.FileTypeDisk, true, TestName = "a disk file is")]
    public void Windows_regular_files_are_disk_files_that_are_not_directories(uint attributes, uint fileType, bool regular) =>
        Assert.That(FileIdentity.FromWindowsInformation(1, 0, 7, attributes, fileType).IsRegularFile, Is.EqualTo(regular));

    [Test]
    public void Same_file_by_any_path_different_files_differ()
    {
        if (!OperatingSystem.IsLinux() && !OperatingSystem.IsWindows())
        {
            Assert.Ignore("FileIdentity reads identities on Linux and Windows only");
        }

        string a = Path.Combine(_dir, "a"), b = Path.Combine(_dir, "b"), link = Path.Combine(_dir, "link");
        File.WriteAllText(a, "a");
        File.WriteAllText(b, "b");
        File.CreateSymbolicLink(link, a);
        var ida = FileIdentity.Of(a)!.Value;
        Assert.Multiple(() =>
        {
            Assert.That(ida.IsRegularFile, Is.True);
            Assert.That(ida.SameFileAs(FileIdentity.Of(link)!.Value), Is.True, "through a symlink");
            Assert.That(ida.SameFileAs(FileIdentity.Of(Path.Combine(_dir, ".", "a"))!.Value), Is.True, "through another spelling");
            Assert.That(ida.SameFileAs(FileIdentity.Of(b)!.Value), Is.False);
            Assert.That(FileIdentity.Of(_dir)?.IsRegularFile, Is.False, "a directory");
            Assert.That(FileIdentity.Of(Path.Combine(_dir, "missing")), Is.Null);
        });
    }
}
