using NUnit.Framework;
using Qcow2Mount.Qcow2.Check;
using Qcow2Mount.Qcow2.Create;
using Qcow2Mount.Qcow2.Storage;
using Qcow2Mount.TestSupport;

namespace Qcow2Mount.Qcow2.Tests.Writes;

/// <summary>
/// iotest 026's question: a host write fails (a full disk, a bad sector) and the user carries on. For each host
/// write of a workload in turn, that write alone fails; the operation that made it fails, later ones go on, the
/// image is closed. Whatever failed, the image holds at most leaks (never corruption), recovery (the writable
/// reopen when the failed close left it dirty, then check --repair leaks) leaves it clean, and every range whose
/// operations all succeeded reads what they wrote.
/// </summary>
[TestFixture]
[Parallelizable(ParallelScope.Children)]
internal sealed class WriteErrorTests
{
    private const int Sector = 512;

    [TestCase(true, 4096, 16)]
    [TestCase(false, 4096, 16)]
    [TestCase(true, 16384, 64)]
    [TestCase(false, 512, 8)]
    public void A_failed_host_write_never_corrupts_the_image(bool lazy, int cluster, int refcountBits)
    {
        using var dir = new TempDir("ioerror");
        string template = dir.Combine("template.qcow2");
        ImageCreator.Create(template, new CreateOptions { Size = 2L << 20, ClusterSize = cluster, RefcountBits = refcountBits });
        byte[] pristine = File.ReadAllBytes(template);
#pragma warning disable CA2000 // Wrong: the image RunWorkload opened over the file has closed it; only its counters and bytes are read here.
        int totalWrites = RunWorkload(pristine, lazy, failAt: null, out _, out _).WriteCount;
#pragma warning restore CA2000
        int step = Math.Max(1, totalWrites / 150);
        TestContext.Out.WriteLine($"{totalWrites} host writes; failing each {step}");
        string image = dir.Combine("image.qcow2");
        for (int failAt = 1; failAt <= totalWrites; failAt += step)
        {
#pragma warning disable CA2000 // Wrong: the image RunWorkload opened over the file has closed it; only its counters and bytes are read here.
            var file = RunWorkload(pristine, lazy, failAt, out byte[] model, out bool[] unknown);
#pragma warning restore CA2000
            File.WriteAllBytes(image, file.CrashImage(FaultInjectingFile.CrashKind.KeepAll));
            string context = $"write {failAt}/{totalWrites} failed";

            CrashConsistencyTests.AssertAtMostLeaks(image, lazy, context);
            if (lazy)
            {
                // A dirty image (the close failed) is repaired by the writable open.
                using var reopened = Qcow2Image.Open(image, new Qcow2OpenOptions { Writable = true });
            }

            // A cluster allocated for a write that then failed stays allocated and unused: a leak, as in QEMU
            // (iotest 026's reference output lists them), which check --repair leaks gives back.
            CrashConsistencyTests.AssertLeakRepairCleans(image, context);

            var after = ImageChecker.Check(image);
            Assert.That(after.IsClean, Is.True, $"{context}: after recovery {after}");
            using var reader = Qcow2Image.Open(image);
            CrashConsistencyTests.AssertSectorsIntact(reader, model, unknown, context, "was written only by operations that succeeded and reads something else");
        }

        DifferentialTests.AssertQemuCheckClean(QemuTools.QemuImg, image, dir.Path);
    }

    /// <summary>
    /// A failed fsync (Linux then drops the pages it could not write) is never followed by a flush that claims
    /// success, and the close does not clear the dirty bit over the lost data: the image stays dirty, and the next
    /// writable open repairs it.
    /// </summary>
    [Test]
    public void After_a_failed_flush_every_flush_fails_and_the_image_stays_dirty()
    {
        using var dir = new TempDir("ioerror");
        string template = dir.Combine("template.qcow2");
        ImageCreator.Create(template, new CreateOptions { Size = 2L << 20, ClusterSize = 4096 });
#pragma warning disable CA2000 // Wrong: the image owns the file (HostFileOpener), and Assert.Throws(disk.Dispose) below disposes the image (its failure is the point).
        var file = new FaultInjectingFile("fsync.qcow2", File.ReadAllBytes(template));
        var disk = Qcow2Image.Open("fsync.qcow2", new Qcow2OpenOptions { Writable = true, LazyRefcounts = true, HostFileOpener = (_, _) => file });
#pragma warning restore CA2000
        disk.WriteAt(0, new byte[8192]);
        disk.Flush();
        disk.WriteAt(65536, Enumerable.Repeat((byte)7, 4096).ToArray());
        file.FailNextFlush = true;

        var first = Assert.Throws<IOException>(disk.Flush)!;
        var second = Assert.Throws<Qcow2Exception>(disk.Flush)!;
        var close = Assert.Throws<Qcow2Exception>(disk.Dispose)!;
        Assert.Multiple(() =>
        {
            Assert.That(first.Message, Does.Contain("Input/output error"));
            Assert.That(second.Code, Is.EqualTo(Qcow2ErrorCode.Io));
            Assert.That(second.Message, Does.Contain("an earlier flush failed"));
            Assert.That(close.Message, Does.Contain("an earlier flush failed"));
        });

        string image = dir.Combine("image.qcow2");
        File.WriteAllBytes(image, file.CrashImage(FaultInjectingFile.CrashKind.KeepAll));
        Assert.That(Qcow2Mount.Qcow2.Format.Qcow2Header.Parse(File.ReadAllBytes(image).AsSpan(0, 512)).IsDirty, Is.True, "still marked dirty");
        using (Qcow2Image.Open(image, new Qcow2OpenOptions { Writable = true }))
        {
        }

        DifferentialTests.AssertQemuCheckClean(QemuTools.QemuImg, image, dir.Path);
    }

    /// <summary>
    /// The workload of the crash tests with every operation's failure caught. Returns the file, the guest model of
    /// the operations that succeeded, and the sectors a failed operation touched (old or new bytes are both right).
    /// </summary>
    private static FaultInjectingFile RunWorkload(byte[] pristine, bool lazy, int? failAt, out byte[] model, out bool[] unknown)
    {
        var file = new FaultInjectingFile("ioerror.qcow2", pristine) { FailWriteAt = failAt };
        var options = new Qcow2OpenOptions { Writable = true, LazyRefcounts = lazy, HostFileOpener = (_, _) => file };
        var writes = new WriteModel(new byte[2L << 20], seed: 11) { ClusterSize = 4096 };
        var uncertain = new bool[writes.Bytes.Length / Sector];
        Qcow2Image? disk = null;
        try
        {
#pragma warning disable CA2000 // The end of the workload closes it. Only an unexpected exception skips that; it fails the test, and closing the in-memory image there would only replace it with the close's own.
            disk = Qcow2Image.Open("ioerror.qcow2", options);
#pragma warning restore CA2000
        }
        catch (IOException)
        {
            // The open's first write (the dirty bit) failed: nothing else happens.
            model = writes.Bytes;
            unknown = uncertain;
            return file;
        }

        for (int i = 0; i < 120; i++)
        {
            var (offset, length) = writes.NextRange();
            int op = writes.NextOperation(10);
            byte[]? data = op < 7 ? writes.NextData(length) : null;
            try
            {
                switch (op)
                {
                    case < 7:
                        disk.WriteAt(offset, data);
                        writes.Write(offset, data);
                        break;
                    case 7:
                        disk.WriteZeroes(offset, length);
                        writes.Zero(offset, length);
                        break;
                    case 8:
                        disk.Discard(offset, length);
                        writes.Zero(offset, length);
                        break;
                    default:
                        disk.Flush();
                        break;
                }
            }
            catch (IOException)
            {
                for (long s = offset / Sector; s <= (offset + length - 1) / Sector && op < 9; s++)
                {
                    uncertain[s] = true;
                }
            }
        }

        try
        {
            disk.Dispose();
        }
        catch (IOException)
        {
            // The close's write failed: the image stays as a crash would leave it (dirty with lazy refcounts).
        }

        model = writes.Bytes;
        unknown = uncertain;
        return file;
    }
}
