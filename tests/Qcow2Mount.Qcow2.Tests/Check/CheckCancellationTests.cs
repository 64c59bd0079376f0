using System.Security.Cryptography;
using NUnit.Framework;
using Qcow2Mount.Qcow2.Check;
using Qcow2Mount.TestSupport;

namespace Qcow2Mount.Qcow2.Tests.Check;

/// <summary>
/// A cancel reaches the checker's own loops: a plain check stops at the next table or block it walks; a repair stops
/// while it is still counting (having written nothing) and, once it writes, finishes the repair.
/// </summary>
[TestFixture]
internal sealed class CheckCancellationTests
{
    private TempDir _dir = null!;

    [SetUp]
    public void SetUp() => _dir = new TempDir("check-cancel");

    [TearDown]
    public void TearDown() => _dir.Dispose();

    /// <summary>An image with data in several L2 tables and one leaked cluster (a refcount nobody references).</summary>
    private string LeakyImage()
    {
        string image = _dir.Combine("leaky.qcow2");
        QemuTools.Ok(QemuTools.QemuImg, "create", "-f", "qcow2", "-o", "cluster_size=4096", image, "64M");
        QemuTools.QemuIoWrite(image, "write -P 0x11 0 1M", "write -P 0x22 16M 1M", "write -P 0x33 48M 1M");
        var layout = new ImageCheckerTests.Layout(image);
        layout.SetRefcount(layout.AppendCluster(), 1);
        return image;
    }

    private static string Hash(string path) => Convert.ToHexString(SHA256.HashData(File.ReadAllBytes(path)));

    [Test]
    public void A_check_stops_at_the_next_table_once_cancelled()
    {
        string image = LeakyImage();
        using var cancel = new CancellationTokenSource();
        var fractions = new List<double>();
        var options = new CheckOptions
        {
            CancellationToken = cancel.Token,
            Progress = fraction =>
            {
                fractions.Add(fraction);
                cancel.Cancel();
            },
        };

        Assert.Throws<OperationCanceledException>(() => ImageChecker.Check(image, options));
        Assert.That(fractions, Has.Count.EqualTo(1), "the walk stopped at the L1 entry after the first report");
    }

    [Test]
    public void A_repair_cancelled_while_counting_writes_nothing()
    {
        string image = LeakyImage();
        string before = Hash(image);
        using var cancel = new CancellationTokenSource();
        var options = new CheckOptions { CancellationToken = cancel.Token, Progress = _ => cancel.Cancel() };

        Assert.Throws<OperationCanceledException>(() => ImageChecker.Repair(image, RepairMode.All, options));
        Assert.That(Hash(image), Is.EqualTo(before), "nothing was repaired, so nothing was written");
        Assert.That(QemuTools.Check(image).Leaks, Is.EqualTo(1), "the leak is still there for the next repair");
    }

    [Test]
    public void A_repair_that_wrote_during_its_walk_finishes_when_cancelled()
    {
        // A compressed cluster whose L2 entry has COPIED set (the walk of the active tables clears it at once), and a
        // leak (fixed only after counting): a repair stopped after the first fix would leave the leak behind.
        string plain = _dir.Combine("plain.qcow2");
        string image = _dir.Combine("compressed.qcow2");
        QemuTools.Ok(QemuTools.QemuImg, "create", "-f", "qcow2", "-o", "cluster_size=4096", plain, "4M");
        QemuTools.QemuIoWrite(plain, "write -P 0x11 0 1M", "write -P 0x22 3M 64k");
        QemuTools.Ok(QemuTools.QemuImg, "convert", "-c", "-O", "qcow2", "-o", "cluster_size=4096", plain, image);
        var layout = new ImageCheckerTests.Layout(image);
        layout.WriteU64(layout.L2Offset, layout.ReadU64(layout.L2Offset) | (1UL << 63));
        layout.SetRefcount(layout.AppendCluster(), 1);
        var before = QemuTools.Check(image);
        Assert.That((before.Corruptions, before.Leaks), Is.EqualTo((1, 1)), before.Stderr);

        using var cancel = new CancellationTokenSource();
        var options = new CheckOptions { CancellationToken = cancel.Token, Progress = _ => cancel.Cancel() };
        var result = ImageChecker.Repair(image, RepairMode.All, options);

        Assert.That((result.CorruptionsFixed, result.LeaksFixed, result.ExitCode), Is.EqualTo((1, 1, 0)), string.Join('\n', result.Messages));
        var after = QemuTools.Check(image);
        Assert.That((after.ExitCode, after.Corruptions, after.Leaks), Is.EqualTo((0, 0, 0)), after.Stderr);
    }

    [Test]
    public void A_repair_cancelled_after_counting_finishes_the_repair()
    {
        string image = LeakyImage();
        using var cancel = new CancellationTokenSource();
        // 0.9 is reported once every reference is counted, just before the refcounts are compared and fixed.
        var options = new CheckOptions
        {
            CancellationToken = cancel.Token,
            Progress = fraction =>
            {
                if (fraction >= 0.9)
                {
                    cancel.Cancel();
                }
            },
        };

        var result = ImageChecker.Repair(image, RepairMode.All, options);

        Assert.That((result.LeaksFixed, result.ExitCode), Is.EqualTo((1, 0)), string.Join('\n', result.Messages));
        var after = QemuTools.Check(image);
        Assert.That((after.ExitCode, after.Leaks, after.Corruptions), Is.EqualTo((0, 0, 0)), after.Stderr);
    }
}
