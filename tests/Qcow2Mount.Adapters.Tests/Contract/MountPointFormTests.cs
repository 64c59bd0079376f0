using Qcow2Mount.Dokan;
using Qcow2Mount.Mounting;
using Qcow2Mount.WinFsp;

namespace Qcow2Mount.Adapters.Tests.Contract;

/// <summary>
/// Both adapters take the same forms ("X:", "X:\", a folder, nothing for the next free letter) and pass each in
/// the form their driver wants: Dokan "X:\" and no letter choice of its own, WinFsp "X:" and null for "choose".
/// </summary>
internal sealed class MountPointFormTests
{
    [TestCase("M:", @"M:\")]
    [TestCase("m:", @"M:\")]
    [TestCase(@"M:\", @"M:\")]
    [TestCase("M:/", @"M:\")]
    [TestCase(@"C:\mounts\debian", @"C:\mounts\debian")]
    public void Drive_letters_become_roots_and_folders_stay(string given, string expected)
    {
        Assert.That(DokanHost.DriverMountPoint(given, [@"C:\"]), Is.EqualTo(expected));
    }

    [TestCase("M:", "M:")]
    [TestCase(@"m:\", "M:")]
    [TestCase("M:/", "M:")]
    [TestCase(@"C:\mounts\debian", @"C:\mounts\debian")]
    [TestCase("", null)]
    [TestCase(null, null)]
    public void WinFsp_gets_bare_letters_and_null_for_the_next_free_one(string? given, string? expected)
    {
        Assert.That(WinFspHost.DriverMountPoint(given), Is.EqualTo(expected));
    }

    [Test]
    public void No_mount_point_takes_the_next_free_letter_from_z_down()
    {
        Assert.Multiple(() =>
        {
            Assert.That(DokanHost.DriverMountPoint(null, [@"C:\", @"Z:\"]), Is.EqualTo(@"Y:\"));
            Assert.That(DokanHost.DriverMountPoint("", [@"C:\"]), Is.EqualTo(@"Z:\"));
            Assert.That(() => DokanHost.DriverMountPoint(null, Enumerable.Range('A', 26).Select(c => $"{(char)c}:\\")),
                Throws.TypeOf<VolumeException>().With.Property(nameof(VolumeException.Code)).EqualTo(VolumeErrorCode.Busy));
        });
    }
}
