using System.Buffers.Binary;
using System.Security.Cryptography;
using NUnit.Framework;
using Qcow2Mount.TestSupport;
using Qcow2Mount.Qcow2.Check;
using Qcow2Mount.Qcow2.Format;

namespace Qcow2Mount.Qcow2.Tests.Writes;

/// <summary>
/// The write path's safety rules, each against a real file: overlap detection marks the image corrupt and stops
/// all writes (iotest 060), unknown autoclear bits go on a writable open only (036), one writer at a time while
/// readers keep reading, a dirty image is repaired on a writable open (039), and read-only opens never write.
/// </summary>
[TestFixture]
internal sealed class WriteSafetyTests
{
    private static Qcow2Header ReadHeader(string path) => Qcow2Header.Parse(File.ReadAllBytes(path).AsSpan(0, 512));

    [Test]
    public void A_data_write_onto_metadata_marks_the_image_corrupt_and_read_only()
    {
        using var dir = new TempDir("engine");
        string image = dir.Combine("overlap.qcow2");
        QemuTools.Ok(QemuTools.QemuImg, "create", "-f", "qcow2", image, "4M");
        QemuTools.QemuIoWrite(image, "write -P 0x11 0 64k");

        // Point guest cluster 0's L2 entry at the L1 table's cluster, keeping COPIED: a write to guest 0 now
        // targets live metadata.
        byte[] bytes = File.ReadAllBytes(image);
        var header = Qcow2Header.Parse(bytes);
        long l2 = (long)(BinaryPrimitives.ReadUInt64BigEndian(bytes.AsSpan((int)header.L1TableOffset)) & L1Entry.OffsetMask);
        BinaryPrimitives.WriteUInt64BigEndian(bytes.AsSpan((int)l2), header.L1TableOffset | L2Entry.Copied);
        File.WriteAllBytes(image, bytes);
        byte[] l1Before = bytes.AsSpan((int)header.L1TableOffset, 512).ToArray();

        using (var disk = Qcow2Image.Open(image, new Qcow2OpenOptions { Writable = true }))
        {
            var e = Assert.Throws<Qcow2Exception>(() => disk.WriteAt(0, new byte[4096]));
            Assert.That(e!.Code, Is.EqualTo(Qcow2ErrorCode.Corrupt));
            Assert.That(e.Message, Does.Contain("active L1 table"));
            Assert.That(disk.CanWrite, Is.False);
            Assert.That(Assert.Throws<Qcow2Exception>(() => disk.WriteAt(1 << 20, new byte[512]))!.Code, Is.EqualTo(Qcow2ErrorCode.ReadOnly));
        }

        byte[] after = File.ReadAllBytes(image);
        Assert.That(after.AsSpan((int)header.L1TableOffset, 512).ToArray(), Is.EqualTo(l1Before), "nothing was written over the L1 table");
        Assert.That(ReadHeader(image).IsCorrupt, Is.True);
        Assert.That(QemuTools.Info(image).GetProperty("format-specific").GetProperty("data").GetProperty("corrupt").GetBoolean(), Is.True);
        Assert.That(Assert.Throws<Qcow2Exception>(() => Qcow2Image.Open(image, new Qcow2OpenOptions { Writable = true }))!.Code,
            Is.EqualTo(Qcow2ErrorCode.Corrupt), "a corrupt image refuses writable opens");
        using var reader = Qcow2Image.Open(image);
        Assert.That(reader.ReadAt(1 << 20, new byte[512]), Is.EqualTo(512), "read-only opens still work");
    }

    /// <summary>
    /// iotest 060's metadata case: an active L2 table that sits on the refcount block. Writing either one back
    /// would destroy the other, so the flush finds the overlap (refcount write-back first with eager refcounts,
    /// the L2 table with lazy ones), marks the image corrupt, writes neither, and the flush reports the failure.
    /// </summary>
    [TestCase(true)]
    [TestCase(false)]
    public void A_metadata_write_onto_other_metadata_marks_the_image_corrupt(bool lazyRefcounts)
    {
        using var dir = new TempDir("engine");
        string image = dir.Combine("l2-on-refblock.qcow2");
        QemuTools.Ok(QemuTools.QemuImg, "create", "-f", "qcow2", image, "4M");
        byte[] bytes = File.ReadAllBytes(image);
        var header = Qcow2Header.Parse(bytes);
        long refcountBlock = (long)(BinaryPrimitives.ReadUInt64BigEndian(bytes.AsSpan((int)header.RefcountTableOffset)) & ~511UL);
        BinaryPrimitives.WriteUInt64BigEndian(bytes.AsSpan((int)header.L1TableOffset), (ulong)refcountBlock | L1Entry.Copied);
        File.WriteAllBytes(image, bytes);
        byte[] blockBefore = bytes.AsSpan((int)refcountBlock, header.ClusterSize).ToArray();

        using (var disk = Qcow2Image.Open(image, new Qcow2OpenOptions { Writable = true, LazyRefcounts = lazyRefcounts }))
        {
            // Guest cluster 32's entry in the "L2 table" is a zero refcount: unallocated, so this write allocates.
            disk.WriteAt(32L * header.ClusterSize, new byte[4096]);
            var e = Assert.Throws<Qcow2Exception>(disk.Flush);
            Assert.That(e!.Code, Is.EqualTo(Qcow2ErrorCode.Corrupt));
            Assert.That(e.Message, Does.Contain(lazyRefcounts ? "refcount block" : "active L2 table"));
            Assert.That(disk.CanWrite, Is.False);
            Assert.That(Assert.Throws<Qcow2Exception>(disk.Flush)!.Code, Is.EqualTo(Qcow2ErrorCode.Corrupt),
                "a later flush does not claim the lost writes are safe");
        }

        byte[] after = File.ReadAllBytes(image);
        Assert.That(after.AsSpan((int)refcountBlock, header.ClusterSize).ToArray(), Is.EqualTo(blockBefore),
            "neither the refcount block nor the L2 table was written over the other");
        Assert.That(ReadHeader(image).IsCorrupt, Is.True);
    }

    [Test]
    public void Unknown_autoclear_bits_are_cleared_by_a_writable_open_only()
    {
        using var dir = new TempDir("engine");
        string image = dir.Combine("autoclear.qcow2");
        QemuTools.Ok(QemuTools.QemuImg, "create", "-f", "qcow2", image, "1M");
        byte[] bytes = File.ReadAllBytes(image);
        BinaryPrimitives.WriteUInt64BigEndian(bytes.AsSpan(88), 1UL << 5);
        File.WriteAllBytes(image, bytes);

        using (Qcow2Image.Open(image))
        {
        }

        Assert.That(File.ReadAllBytes(image), Is.EqualTo(bytes), "a read-only open changes nothing");
        using (Qcow2Image.Open(image, new Qcow2OpenOptions { Writable = true }))
        {
        }

        Assert.That(ReadHeader(image).AutoclearFeatures, Is.EqualTo(AutoclearFeatures.None));
        Assert.That(QemuTools.Check(image).ExitCode, Is.Zero);
    }

    [Test]
    public void A_second_writer_is_refused_while_readers_keep_working()
    {
        using var dir = new TempDir("engine");
        string image = dir.Combine("lock.qcow2");
        QemuTools.Ok(QemuTools.QemuImg, "create", "-f", "qcow2", image, "1M");
        using var writer = Qcow2Image.Open(image, new Qcow2OpenOptions { Writable = true });
        writer.WriteAt(0, new byte[] { 1, 2, 3 });
        writer.Flush();
        var e = Assert.Throws<Qcow2Exception>(() => Qcow2Image.Open(image, new Qcow2OpenOptions { Writable = true }));
        Assert.That(e!.Code, Is.EqualTo(Qcow2ErrorCode.Locked));
        Assert.That(e.Message, Does.Contain("opened for writing by another process"));
        using var reader = Qcow2Image.Open(image);
        var buffer = new byte[3];
        reader.ReadAt(0, buffer);
        Assert.That(buffer, Is.EqualTo(new byte[] { 1, 2, 3 }));
    }

    /// <summary>
    /// A mount's read-only opens hold the reader lock: our own writers (a writable open, check --repair) refuse the
    /// image and its backing chain until it is released, and plain readers are untouched. QEMU is kept off by its
    /// own lock bytes (see the next tests); with force-share it may still write.
    /// </summary>
    [Test]
    public void A_held_reader_lock_keeps_our_writers_off_the_image_and_its_backing_chain()
    {
        using var dir = new TempDir("engine");
        string image = dir.Combine("viewed.qcow2"), top = dir.Combine("top.qcow2");
        QemuTools.Ok(QemuTools.QemuImg, "create", "-f", "qcow2", image, "1M");
        QemuTools.Ok(QemuTools.QemuImg, "create", "-f", "qcow2", "-b", image, "-F", "qcow2", top);
        Qcow2Exception Refused(string path) =>
            Assert.Throws<Qcow2Exception>(() => Qcow2Image.Open(path, new Qcow2OpenOptions { Writable = true }).Dispose())!;

        using (Qcow2Image.Open(image, new Qcow2OpenOptions { HoldReaderLock = true }))
        {
            var writer = Refused(image);
            var repair = Assert.Throws<Qcow2Exception>(() => ImageChecker.Repair(image, RepairMode.All))!;
            Assert.Multiple(() =>
            {
                Assert.That(writer.Code, Is.EqualTo(Qcow2ErrorCode.Locked));
                Assert.That(writer.Message, Does.Contain("mounted by qcow2mount"));
                Assert.That(repair.Code, Is.EqualTo(Qcow2ErrorCode.Locked));
            });
            using var reader = Qcow2Image.Open(image);
        }

        using (Qcow2Image.Open(top, new Qcow2OpenOptions { Writable = true, HoldReaderLock = true }))
        {
            Assert.That(Refused(image).Code, Is.EqualTo(Qcow2ErrorCode.Locked), "the backing file of a writable mount");
        }

        using (Qcow2Image.Open(image))
        {
            Qcow2Image.Open(image, new Qcow2OpenOptions { Writable = true }).Dispose();
        }

        // And the other way round: no mount starts while one of our writers has the image.
        using (Qcow2Image.Open(image, new Qcow2OpenOptions { Writable = true }))
        {
            var mount = Assert.Throws<Qcow2Exception>(() => Qcow2Image.Open(image, new Qcow2OpenOptions { HoldReaderLock = true }).Dispose())!;
            Assert.That(mount.Code, Is.EqualTo(Qcow2ErrorCode.Locked));
        }
    }

    /// <summary>
    /// A mount takes what a QEMU reader takes (as qemu-img does without -U): QEMU may read the image alongside but
    /// not write it, since our cached metadata would not see its changes. Force-share takes no QEMU lock.
    /// </summary>
    [Test]
    public void While_mounted_QEMU_may_read_but_not_write_unless_the_mount_force_shares()
    {
        using var dir = new TempDir("engine");
        string image = dir.Combine("mounted.qcow2");
        QemuTools.Ok(QemuTools.QemuImg, "create", "-f", "qcow2", image, "1M");

        using (Qcow2Image.Open(image, new Qcow2OpenOptions { HoldReaderLock = true }))
        {
            var write = QemuTools.Run(QemuTools.QemuIo, "-f", "qcow2", "-c", "write 0 4k", image);
            Assert.Multiple(() =>
            {
                Assert.That(write.ExitCode, Is.Not.Zero, "qemu-io wrote to a mounted image");
                Assert.That(write.Stderr, Does.Contain("\"write\" lock"));
                Assert.That(QemuTools.Run(QemuTools.QemuImg, "info", image).ExitCode, Is.Zero, "QEMU readers are welcome");
                Assert.That(QemuTools.Run(QemuTools.QemuIo, "-r", "-f", "qcow2", "-c", "read 0 4k", image).ExitCode, Is.Zero);
            });
        }

        using (Qcow2Image.Open(image, new Qcow2OpenOptions { HoldReaderLock = true, ForceShare = true }))
        {
            QemuTools.QemuIoWrite(image, "write -P 0x22 0 4k");
        }

        QemuTools.QemuIoWrite(image, "write -P 0x23 0 4k");
    }

    /// <summary>An image QEMU holds open for writing (a running VM) is refused by a mount, unless it force-shares.</summary>
    [Test]
    public void A_mount_refuses_an_image_QEMU_is_writing_unless_it_force_shares()
    {
        using var dir = new TempDir("engine");
        string image = dir.Combine("live.qcow2");
        QemuTools.Ok(QemuTools.QemuImg, "create", "-f", "qcow2", image, "1M");
        using var vm = QemuWriter.Hold(image);

        var refused = Assert.Throws<Qcow2Exception>(() => Qcow2Image.Open(image, new Qcow2OpenOptions { HoldReaderLock = true }).Dispose())!;
        Assert.Multiple(() =>
        {
            Assert.That(refused.Code, Is.EqualTo(Qcow2ErrorCode.Locked));
            Assert.That(refused.Message, Does.StartWith(image + ": image is in use by another program").And.Contain("\"write\" lock").And.Contain("force-share"));
        });
        using var forced = Qcow2Image.Open(image, new Qcow2OpenOptions { HoldReaderLock = true, ForceShare = true });
        using var plain = Qcow2Image.Open(image);
    }

    /// <summary>QEMU's lock bytes: while we write, qemu-img refuses to open the image unless told to share (-U).</summary>
    [Test]
    public void While_we_write_QEMU_refuses_the_image_unless_it_force_shares()
    {
        using var dir = new TempDir("engine");
        string image = dir.Combine("qemu-lock.qcow2");
        QemuTools.Ok(QemuTools.QemuImg, "create", "-f", "qcow2", image, "1M");
        using (var writer = Qcow2Image.Open(image, new Qcow2OpenOptions { Writable = true }))
        {
            writer.WriteAt(0, new byte[512]);
            var write = QemuTools.Run(QemuTools.QemuIo, "-f", "qcow2", "-c", "write 0 4k", image);
            Assert.That(write.ExitCode, Is.Not.Zero, "qemu-io wrote to an image we have open for writing");
            Assert.That(write.Stderr, Does.Contain("lock"));
            var info = QemuTools.Run(QemuTools.QemuImg, "info", image);
            Assert.That(info.ExitCode, Is.Not.Zero);
            Assert.That(info.Stderr, Does.Contain("Failed to get shared \"write\" lock"));
            Assert.That(QemuTools.Run(QemuTools.QemuImg, "info", "-U", image).ExitCode, Is.Zero, "force-share still reads");
        }

        Assert.That(QemuTools.Run(QemuTools.QemuImg, "info", image).ExitCode, Is.Zero, "the locks go with the writer");
    }

    /// <summary>While QEMU writes the image (qemu-io stands in for a running VM), our writable open is refused; read-only opens work.</summary>
    [Test]
    public void While_QEMU_writes_a_writable_open_is_refused_and_reading_still_works()
    {
        using var dir = new TempDir("engine");
        string image = dir.Combine("qemu-writer.qcow2");
        QemuTools.Ok(QemuTools.QemuImg, "create", "-f", "qcow2", image, "1M");
        using (var vm = QemuWriter.Hold(image))
        {
            Assert.That(vm.Command("write -P 0x33 0 4k"), Does.Contain("wrote"));
            var e = Assert.Throws<Qcow2Exception>(() => Qcow2Image.Open(image, new Qcow2OpenOptions { Writable = true }));
            Assert.That(e!.Code, Is.EqualTo(Qcow2ErrorCode.Locked));
            Assert.That(e.Message, Does.Contain("QEMU"));
            using var reader = Qcow2Image.Open(image);
            Assert.That(reader.Length, Is.EqualTo(1 << 20));
        }

        using var after = Qcow2Image.Open(image, new Qcow2OpenOptions { Writable = true });
        Assert.That(after.CanWrite, Is.True, "once QEMU is gone the image opens for writing");
    }

    [Test]
    public void A_writable_open_repairs_a_dirty_image_and_a_read_only_open_leaves_it_alone()
    {
        using var dir = new TempDir("engine");
        string image = dir.Combine("dirty.qcow2");
        QemuTools.Ok(QemuTools.QemuImg, "create", "-f", "qcow2", "-o", "lazy_refcounts=on", image, "8M");
        // qemu-io's abort leaves the image as a crash would: dirty, refcounts behind the L2 tables.
        QemuTools.RunIn(dir.Path, QemuTools.QemuIo, "-f", "qcow2", "-c", "write -P 0x42 0 1M", "-c", "flush", "-c", "abort", image);
        Assert.That(ReadHeader(image).IsDirty, Is.True, "the setup must leave a dirty image");
        string hash = Convert.ToHexString(SHA256.HashData(File.ReadAllBytes(image)));

        using (var reader = Qcow2Image.Open(image))
        {
            var buffer = new byte[4096];
            reader.ReadAt(0, buffer);
            Assert.That(buffer, Is.All.EqualTo(0x42));
        }

        Assert.That(Convert.ToHexString(SHA256.HashData(File.ReadAllBytes(image))), Is.EqualTo(hash), "read-only opens never write");

        using (var disk = Qcow2Image.Open(image, new Qcow2OpenOptions { Writable = true }))
        {
            Assert.That(disk.DirtyRepair, Is.Not.Null, "the repair is reported");
            var buffer = new byte[4096];
            disk.ReadAt(1 << 19, buffer);
            Assert.That(buffer, Is.All.EqualTo(0x42));
        }

        Assert.That(ReadHeader(image).IsDirty, Is.False);
        var check = QemuTools.Check(image);
        Assert.That((check.ExitCode, check.Corruptions, check.Leaks), Is.EqualTo((0, 0, 0)), check.Stderr);
    }
}
