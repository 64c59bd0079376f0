using Qcow2Mount.Fuse;
using Qcow2Mount.Qcow2;

namespace Qcow2Mount.Mounting.Tests.Fuse;

internal sealed class ErrnoTests
{
    [TestCase(VolumeErrorCode.NotFound, 2)]
    [TestCase(VolumeErrorCode.IsDirectory, 21)]
    [TestCase(VolumeErrorCode.NotDirectory, 20)]
    [TestCase(VolumeErrorCode.ReadOnly, 30)]
    [TestCase(VolumeErrorCode.AccessDenied, 13)]
    [TestCase(VolumeErrorCode.InvalidArgument, 22)]
    [TestCase(VolumeErrorCode.NotSupported, 95)]
    [TestCase(VolumeErrorCode.Exists, 17)]
    [TestCase(VolumeErrorCode.IoError, 5)]
    [TestCase(VolumeErrorCode.Busy, 16)]
    [TestCase(VolumeErrorCode.SharingViolation, 16)]
    [TestCase(VolumeErrorCode.NoSpace, 28)]
    [TestCase(VolumeErrorCode.InvalidHandle, 9)]
    public void Each_volume_error_has_its_linux_errno(VolumeErrorCode code, int expected)
    {
        Assert.That(Errno.From(code), Is.EqualTo(expected));
    }

    [Test]
    public void Every_volume_error_code_is_in_the_table_with_a_real_errno()
    {
        // EIO is the fallback; only IoError may legitimately map to it.
        var fallingBack = Enum.GetValues<VolumeErrorCode>().Where(c => c != VolumeErrorCode.IoError && Errno.From(c) == Errno.EIO);
        Assert.That(fallingBack, Is.Empty);
    }

    [Test]
    public void Exceptions_map_by_kind_and_surprises_are_EIO()
    {
        Assert.Multiple(() =>
        {
            Assert.That(Errno.From(new VolumeException(VolumeErrorCode.ReadOnly, "x")), Is.EqualTo(Errno.EROFS));
            Assert.That(Errno.From(new Qcow2Exception(Qcow2ErrorCode.Unsupported, "x")), Is.EqualTo(Errno.EOPNOTSUPP));
            Assert.That(Errno.From(new InvalidOperationException()), Is.EqualTo(Errno.EIO));
        });
    }
}
