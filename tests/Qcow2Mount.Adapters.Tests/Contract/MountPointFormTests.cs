using Qcow2Mount.Dokan;
using Qcow2Mount.Mounting;

namespace Qcow2Mount.Adapters.Tests.Contract;

/// <summary>Dokan wants "X:\" where WinFsp takes "X:", and picks no letter itself: the adapter does both.</summary>
public sealed class MountPointFormTests
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
