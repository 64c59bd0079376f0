using NUnit.Framework;
using Qcow2Mount.TestSupport;

namespace Qcow2Mount.Qcow2.Tests.Writes;

/// <summary>Discard gives space back: the host file's blocks with <see cref="Qcow2OpenOptions.PunchHoles"/>, the clusters to the allocator always.</summary>
[TestFixture]
internal sealed class DiscardTests
{
    [TestCase(true)]
    [TestCase(false)]
    public void Discard_punches_holes_only_when_asked_and_freed_clusters_are_reused(bool punch)
    {
        if (!OperatingSystem.IsLinux())
        {
            Assert.Ignore("Hole punching is implemented on Linux only.");
        }

        using var dir = new TempDir("engine");
        string image = dir.Combine("discard.qcow2");
        QemuTools.Ok(QemuTools.QemuImg, "create", "-f", "qcow2", image, "16M");
        var options = new Qcow2OpenOptions { Writable = true, PunchHoles = punch };
        byte[] data = new byte[4 << 20];
        new Random(3).NextBytes(data);
        long lengthAfterWrite;
        using (var disk = Qcow2Image.Open(image, options))
        {
            disk.WriteAt(0, data);
            disk.Flush();
            lengthAfterWrite = new FileInfo(image).Length;
            long before = AllocatedBytes(image);
            disk.Discard(0, 2 << 20);
            disk.Flush();
            long freed = before - AllocatedBytes(image);
            if (punch)
            {
                // Less one cluster: the flush may write metadata into a block that was a hole.
                Assert.That(freed, Is.GreaterThanOrEqualTo((2 << 20) - (64 << 10)), "the discarded 2 MiB went back to the file system");
            }
            else
            {
                Assert.That(freed, Is.LessThan(64 << 10), "without PunchHoles the host file keeps its blocks");
            }

            // The freed clusters take new data before the file grows.
            disk.WriteAt(8 << 20, data.AsSpan(0, 2 << 20));
            disk.Flush();
        }

        Assert.That(new FileInfo(image).Length, Is.EqualTo(lengthAfterWrite), "new data went into the freed clusters");
        Assert.That(QemuTools.Check(image).ExitCode, Is.Zero);
        var guest = QemuTools.ReadGuest(image, dir.Path);
        Assert.Multiple(() =>
        {
            Assert.That(guest.AsSpan(0, 2 << 20).IndexOfAnyExcept((byte)0), Is.EqualTo(-1), "discarded range reads as zeros");
            Assert.That(guest.AsSpan(2 << 20, 2 << 20).SequenceEqual(data.AsSpan(2 << 20, 2 << 20)), Is.True);
            Assert.That(guest.AsSpan(8 << 20, 2 << 20).SequenceEqual(data.AsSpan(0, 2 << 20)), Is.True);
        });
    }

    private static long AllocatedBytes(string path)
    {
        var (exitCode, stdout, stderr) = QemuTools.Run("stat", "-c", "%b %B", path);
        Assert.That(exitCode, Is.Zero, stderr);
        var parts = stdout.Trim().Split(' ');
        return long.Parse(parts[0], System.Globalization.CultureInfo.InvariantCulture) * long.Parse(parts[1], System.Globalization.CultureInfo.InvariantCulture);
    }
}
