using NUnit.Framework;
using Qcow2Mount.Qcow2.Storage;

namespace Qcow2Mount.Qcow2.Tests.Storage;

/// <summary>
/// The platform-neutral parts of the image lock: the Windows share modes, judged by Windows' own rule for two
/// opens of one file, and the mapping of sharing violations to the Locked error. (The Linux locks are exercised
/// by the tests that open images twice; the Windows open itself runs under Wine in the CLI's fixture.)
/// </summary>
[TestFixture]
internal class ImageLockTests
{
    internal sealed record Opener(string Name, bool Writable, bool LockWriter = false, bool LockReader = false, bool ForceShare = false)
    {
        public FileAccess Access => Writable ? FileAccess.ReadWrite : FileAccess.Read;
        public FileShare Share => ImageLock.WindowsShareMode(Writable, LockWriter, LockReader, ForceShare);
        public override string ToString() => Name;
    }

    private static readonly Opener Writer = new("writer", Writable: true, LockWriter: true);
    private static readonly Opener UnlockedWriter = new("unlocked writer", Writable: true);
    private static readonly Opener LockingReader = new("locking reader", Writable: false, LockReader: true);
    private static readonly Opener ForceShareReader = new("force-share reader", Writable: false, LockReader: true, ForceShare: true);
    private static readonly Opener PlainReader = new("plain reader", Writable: false);

    /// <summary>
    /// Windows' rule: a second open succeeds only if each handle's share mode allows the other's access
    /// (read needs FileShare.Read, write needs FileShare.Write), whichever came first.
    /// </summary>
    private static bool WindowsAllowsBoth(Opener first, Opener second) =>
        Allows(first.Share, second.Access) && Allows(second.Share, first.Access);

    private static bool Allows(FileShare share, FileAccess access) =>
        (!access.HasFlag(FileAccess.Read) || share.HasFlag(FileShare.Read))
        && (!access.HasFlag(FileAccess.Write) || share.HasFlag(FileShare.Write));

    private static IEnumerable<TestCaseData> Pairs()
    {
        yield return new TestCaseData(Writer, Writer, false).SetName("a second writer is refused");
        yield return new TestCaseData(Writer, LockingReader, false).SetName("a locking reader is refused while a writer writes");
        yield return new TestCaseData(LockingReader, Writer, false).SetName("a writer is refused while a locking reader (a mount) reads");
        yield return new TestCaseData(ForceShareReader, Writer, true).SetName("a force-share reader lets a writer in");
        yield return new TestCaseData(Writer, ForceShareReader, true).SetName("a force-share reader gets in beside a writer");
        yield return new TestCaseData(Writer, PlainReader, true).SetName("a plain reader gets in beside a writer");
        yield return new TestCaseData(LockingReader, LockingReader, true).SetName("locking readers share the image");
        yield return new TestCaseData(LockingReader, PlainReader, true).SetName("a plain reader gets in beside a locking reader");
        yield return new TestCaseData(UnlockedWriter, PlainReader, true).SetName("an unlocked writer keeps nobody out");
    }

    [TestCaseSource(nameof(Pairs))]
    public void Share_modes_admit_what_the_Linux_locks_admit(Opener first, Opener second, bool bothOpen) =>
        Assert.That(WindowsAllowsBoth(first, second), Is.EqualTo(bothOpen));

    [Test]
    public void Every_open_shares_delete() =>
        Assert.That(new[] { Writer, UnlockedWriter, LockingReader, ForceShareReader, PlainReader }.Select(o => o.Share & FileShare.Delete),
            Is.All.EqualTo(FileShare.Delete));

    [TestCase(unchecked((int)0x80070020), true, TestName = "ERROR_SHARING_VIOLATION is a lock conflict")]
    [TestCase(unchecked((int)0x80070021), true, TestName = "ERROR_LOCK_VIOLATION is a lock conflict")]
    [TestCase(unchecked((int)0x80070005), false, TestName = "access denied is not")]
    [TestCase(11, false, TestName = "a raw errno (EAGAIN) is not")]
    public void Recognises_sharing_violations(int hresult, bool violation) =>
        Assert.That(ImageLock.IsSharingViolation(hresult), Is.EqualTo(violation));

    [Test]
    public void A_sharing_violation_becomes_the_locked_error_naming_the_image()
    {
        var refused = new IOException("The process cannot access the file", unchecked((int)0x80070020));
        var writer = ImageLock.LockedError(refused, "/images/a.qcow2", writable: true);
        var reader = ImageLock.LockedError(refused, "/images/a.qcow2", writable: false);
        Assert.Multiple(() =>
        {
            Assert.That(writer?.Code, Is.EqualTo(Qcow2ErrorCode.Locked));
            Assert.That(writer?.Message, Does.StartWith("/images/a.qcow2: image is in use by another process"));
            Assert.That(writer?.InnerException, Is.SameAs(refused));
            Assert.That(reader?.Code, Is.EqualTo(Qcow2ErrorCode.Locked));
            Assert.That(reader?.Message, Does.StartWith("/images/a.qcow2: image is being written by another process"));
            Assert.That(ImageLock.LockedError(new IOException("disk full", unchecked((int)0x80070070)), "x", true), Is.Null);
        });
    }

    [Test]
    public void Share_mode_on_this_OS_is_the_Windows_one_only_on_Windows() =>
        Assert.That(ImageLock.ShareMode(writable: true, lockWriter: true, lockReader: false, forceShare: false),
            Is.EqualTo(OperatingSystem.IsWindows() ? FileShare.Read | FileShare.Delete : FileShare.ReadWrite | FileShare.Delete));
}
