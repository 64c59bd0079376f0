using Qcow2Mount.Mounting;
using Qcow2Mount.Mounting.Tests.Doubles;
using Qcow2Mount.Mounting.Windows;
using Qcow2Mount.WinFsp;

namespace Qcow2Mount.Adapters.Tests.Contract;

/// <summary>What only WinFsp asks: listings resumed after a marker, and FSCTL_SET_ZERO_DATA through Control.</summary>
internal sealed unsafe class WinFspSpecificTests
{
    [Test]
    public void A_listing_resumes_after_the_marker_even_when_the_marker_is_gone()
    {
        using var volume = new Volume(MemoryDisk.WithNoise(4096), new VolumeOptions { ReadOnly = true },
            [new SnapshotDisk("a", MemoryDisk.WithNoise(512, false)), new SnapshotDisk("B", MemoryDisk.WithNoise(512, false)), new SnapshotDisk("c", MemoryDisk.WithNoise(512, false))]);
        var driver = new WinFspDriver();
        driver.Attach(new WindowsVolume(volume));
        driver.Open(@"\snapshots", WindowsCreateDisposition.Open, WindowsAccess.GenericRead, WindowsShareAccess.All, true, out var directory);

        Assert.Multiple(() =>
        {
            Assert.That(driver.ListAfter(directory!, ".."), Is.EqualTo(new[] { "a.raw", "B.raw", "c.raw" }));
            Assert.That(driver.ListAfter(directory!, "a.raw"), Is.EqualTo(new[] { "B.raw", "c.raw" }));
            Assert.That(driver.ListAfter(directory!, "b"), Is.EqualTo(new[] { "B.raw", "c.raw" }), "a marker that no longer exists");
            Assert.That(driver.ListAfter(directory!, "c.raw"), Is.Empty);
        });
    }

    [Test]
    public void Set_zero_data_zeroes_the_range_inside_the_disk()
    {
        var disk = MemoryDisk.WithNoise(8192);
        using var volume = new Volume(disk, new VolumeOptions());
        var windowsVolume = new WindowsVolume(volume);
        var fileSystem = new WinFspFileSystem(windowsVolume, null);
        var outcome = windowsVolume.Create(new WindowsCreateRequest(@"\disk.raw", WindowsCreateDisposition.Open, WindowsAccess.GenericWrite));
        var file = new OpenFile(outcome.Handle, outcome.Node!);
        long* range = stackalloc long[2];
        range[0] = 4096;
        range[1] = 1 << 20;

        int status = fileSystem.Control(file, file, WinFspFileSystem.FsctlSetZeroData, (IntPtr)range, 16, IntPtr.Zero, 0, out _);
        int other = fileSystem.Control(file, file, 0x00090000, (IntPtr)range, 16, IntPtr.Zero, 0, out _);

        Assert.Multiple(() =>
        {
            Assert.That(status, Is.Zero);
            Assert.That(disk.Data.AsSpan(4096).ContainsAnyExcept((byte)0), Is.False);
            Assert.That(disk.Data.AsSpan(0, 4096).ContainsAnyExcept((byte)0), Is.True, "before the range stays");
            Assert.That((NtStatus)other, Is.EqualTo(NtStatus.InvalidDeviceRequest));
        });
    }
}
