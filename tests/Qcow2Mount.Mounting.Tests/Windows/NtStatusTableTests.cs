using Qcow2Mount.Mounting.Windows;
using Qcow2Mount.Qcow2;

namespace Qcow2Mount.Mounting.Tests.Windows;

internal sealed class NtStatusTableTests
{
    [TestCase(VolumeErrorCode.NotFound, 0xC0000034u)]
    [TestCase(VolumeErrorCode.IsDirectory, 0xC00000BAu)]
    [TestCase(VolumeErrorCode.NotDirectory, 0xC0000103u)]
    [TestCase(VolumeErrorCode.ReadOnly, 0xC00000A2u)]
    [TestCase(VolumeErrorCode.AccessDenied, 0xC0000022u)]
    [TestCase(VolumeErrorCode.InvalidArgument, 0xC000000Du)]
    [TestCase(VolumeErrorCode.NotSupported, 0xC00000BBu)]
    [TestCase(VolumeErrorCode.Exists, 0xC0000035u)]
    [TestCase(VolumeErrorCode.IoError, 0xC0000185u)]
    [TestCase(VolumeErrorCode.Busy, 0x80000011u)]
    [TestCase(VolumeErrorCode.SharingViolation, 0xC0000043u)]
    [TestCase(VolumeErrorCode.NoSpace, 0xC000007Fu)]
    [TestCase(VolumeErrorCode.InvalidHandle, 0xC0000008u)]
    public void Each_volume_error_has_its_ntstatus(VolumeErrorCode code, uint expected)
    {
        Assert.That((uint)NtStatusTable.From(code), Is.EqualTo(expected));
    }

    [Test]
    public void Every_volume_error_code_is_in_the_table()
    {
        Assert.That(Enum.GetValues<VolumeErrorCode>().Select(NtStatusTable.From).Distinct().Count(),
            Is.EqualTo(Enum.GetValues<VolumeErrorCode>().Length), "each code needs its own, distinct status");
    }

    [Test]
    public void Exceptions_map_by_kind()
    {
        Assert.Multiple(() =>
        {
            Assert.That(NtStatusTable.From(new VolumeException(VolumeErrorCode.ReadOnly, "x")), Is.EqualTo(NtStatus.MediaWriteProtected));
            Assert.That(NtStatusTable.From(new Qcow2Exception(Qcow2ErrorCode.SnapshotNotFound, "x")), Is.EqualTo(NtStatus.ObjectNameNotFound));
            Assert.That(NtStatusTable.From(new InvalidOperationException()), Is.EqualTo(NtStatus.IoDeviceError));
            Assert.That((uint)NtStatus.Success, Is.Zero);
        });
    }
}
