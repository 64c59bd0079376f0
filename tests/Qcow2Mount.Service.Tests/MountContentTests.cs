using Qcow2Mount.Control;
using Qcow2Mount.Control.Protocol;
using Qcow2Mount.Mounting;
using Qcow2Mount.Service.Tests.Support;
using Qcow2Mount.TestSupport;

namespace Qcow2Mount.Service.Tests;

/// <summary>Through the service, disk.raw and snapshots/*.raw hold exactly the bytes qemu-img converts the image to.</summary>
internal sealed class MountContentTests : ServiceMountFixture
{
    [TestCase("plain")]
    [TestCase("zlib")]
    [TestCase("zstd")]
    [TestCase("extended-l2")]
    [TestCase("backing-chain")]
    [TestCase("snapshot")]
    public async Task Disk_raw_has_the_bytes_qemu_img_converts_the_image_to(string kind)
    {
        string image = Images.Make(kind, ImageDir);
        string expected = Images.Sha256(Images.ConvertToRaw(image, ImageDir.Combine("expected.raw")));
        string mountDir = Service.NewMountDir();

        var mount = await Client.MountAsync(new ControlMountRequest { Image = image, MountPoint = mountDir });

        Assert.Multiple(() =>
        {
            Assert.That(mount.Mode, Is.EqualTo(ControlMountModes.ReadOnly));
            Assert.That(mount.ReadOnly, Is.True);
            Assert.That(mount.Size, Is.EqualTo(Images.Size));
            Assert.That(Images.Sha256(Path.Combine(mountDir, Volume.DiskFileName)), Is.EqualTo(expected));
        });
    }

    /// <summary>
    /// Mount:ZeroCopyReads off: every read is copied through the service (the path writable mounts always take),
    /// and reads the same bytes as the spliced path above.
    /// </summary>
    [TestCase("plain")]
    [TestCase("backing-chain")]
    public async Task Disk_raw_has_the_same_bytes_with_zero_copy_reads_off(string kind)
    {
        await using var copying = await ServiceSession.StartAsync(adjust: s => s with { Mount = s.Mount with { ZeroCopyReads = false } });
        using var client = await copying.ConnectAsync();
        string image = Images.Make(kind, ImageDir);
        string expected = Images.Sha256(Images.ConvertToRaw(image, ImageDir.Combine("expected.raw")));
        string mountDir = copying.NewMountDir();

        await client.MountAsync(new ControlMountRequest { Image = image, MountPoint = mountDir });

        Assert.That(Images.Sha256(Path.Combine(mountDir, Volume.DiskFileName)), Is.EqualTo(expected));
        await client.UnmountAsync(mountDir, force: false);
    }

    [Test]
    public async Task Each_internal_snapshot_appears_as_a_raw_file_with_its_bytes()
    {
        string image = Images.Make("snapshot", ImageDir);
        string mountDir = Service.NewMountDir();

        var mount = await Client.MountAsync(new ControlMountRequest { Image = image, MountPoint = mountDir });

        Assert.That(mount.Snapshots, Is.EqualTo(new[] { "first.raw", "second one.raw" }));
        foreach (string name in new[] { "first", "second one" })
        {
            string expected = Images.Sha256(Images.ConvertToRaw(image, ImageDir.Combine($"{name}.expected"), name));
            string actual = Images.Sha256(Path.Combine(mountDir, Volume.SnapshotDirectoryName, name + ".raw"));
            Assert.That(actual, Is.EqualTo(expected), name);
        }

        Assert.That(Images.Sha256(Path.Combine(mountDir, "snapshots", "first.raw")),
            Is.Not.EqualTo(Images.Sha256(Path.Combine(mountDir, Volume.DiskFileName))), "the snapshot differs from the active layer");
    }

    [Test]
    public async Task Snapshot_mode_shows_the_snapshot_as_disk_raw_read_only()
    {
        string image = Images.Make("snapshot", ImageDir);
        string expected = Images.Sha256(Images.ConvertToRaw(image, ImageDir.Combine("first.expected"), "first"));
        string mountDir = Service.NewMountDir();

        var mount = await Client.MountAsync(new ControlMountRequest { Image = image, MountPoint = mountDir, Mode = ControlMountModes.Snapshot, Snapshot = "first" });

        Assert.Multiple(() =>
        {
            Assert.That(mount.ReadOnly, Is.True);
            Assert.That(Images.Sha256(Path.Combine(mountDir, Volume.DiskFileName)), Is.EqualTo(expected));
        });
        var refused = Assert.Throws(Is.InstanceOf<IOException>(), () => File.OpenHandle(Path.Combine(mountDir, Volume.DiskFileName), FileMode.Open, FileAccess.ReadWrite).Dispose());
        Assert.That(refused!.HResult, Is.EqualTo(30), "EROFS");
    }

    [Test]
    public async Task A_snapshot_that_does_not_exist_is_refused_by_name()
    {
        string image = Images.Make("plain", ImageDir);

        var error = Assert.ThrowsAsync<ControlException>(() => Client.MountAsync(new ControlMountRequest { Image = image, MountPoint = Service.NewMountDir(), Mode = ControlMountModes.Snapshot, Snapshot = "nope" }));

        Assert.That(error!.Code, Is.EqualTo(ErrorCodes.SnapshotNotFound));
        Assert.That(error.Message, Does.Contain("nope"));
    }

    /// <summary>
    /// A LUKS image mounts with its password: disk.raw holds what qemu-img decrypts, a writable mount writes it
    /// encrypted; no password or a wrong one is refused, and so is an overlay, which would hold data in the clear.
    /// </summary>
    [Test]
    public async Task An_encrypted_image_mounts_with_its_password()
    {
        string image = ImageDir.Combine("luks.qcow2");
        EncryptedImages.Create(image, "s3cret", size: $"{Images.Size}");
        EncryptedImages.QemuIo(EncryptedImages.ImageOpts(image), "s3cret", "write -P 0x5e 0 1M", "write -P 0x5f 5000000 70000");
        EncryptedImages.ConvertToRaw(image, "s3cret", ImageDir.Combine("expected.raw"));
        string expected = Images.Sha256(ImageDir.Combine("expected.raw"));
        byte[] before = File.ReadAllBytes(image);
        string mountDir = Service.NewMountDir();

        var missing = Assert.ThrowsAsync<ControlException>(() => Client.MountAsync(new ControlMountRequest { Image = image, MountPoint = mountDir }))!;
        var wrong = Assert.ThrowsAsync<ControlException>(() => Client.MountAsync(new ControlMountRequest { Image = image, MountPoint = mountDir, Password = "guess" }))!;
        await Client.MountAsync(new ControlMountRequest { Image = image, MountPoint = mountDir, Password = "s3cret" });
        string actual = Images.Sha256(Path.Combine(mountDir, Volume.DiskFileName));
        await Client.UnmountAsync(mountDir);

        var overlay = Assert.ThrowsAsync<ControlException>(() => Client.MountAsync(new ControlMountRequest { Image = image, MountPoint = mountDir, Mode = ControlMountModes.Overlay, Password = "s3cret" }))!;

        Assert.Multiple(() =>
        {
            Assert.That(missing.Code, Is.EqualTo(ErrorCodes.Password));
            Assert.That(missing.Message, Does.Contain("image is encrypted (LUKS)"));
            Assert.That(wrong.Code, Is.EqualTo(ErrorCodes.Password));
            Assert.That(wrong.Message, Does.Contain("wrong password"));
            Assert.That(actual, Is.EqualTo(expected));
            Assert.That(overlay.Code, Is.EqualTo(ErrorCodes.Unsupported));
            Assert.That(overlay.Message, Does.Contain("would hold its data unencrypted"));
            Assert.That(File.ReadAllBytes(image), Is.EqualTo(before), "the encrypted image never changed");
        });

        // Writable: what goes through disk.raw is what qemu-img decrypts afterwards, and the image checks clean.
        await Client.MountAsync(new ControlMountRequest { Image = image, MountPoint = mountDir, Mode = ControlMountModes.Writable, Password = "s3cret" });
        byte[] written = Enumerable.Range(0, 10000).Select(i => (byte)(i * 7)).ToArray();
        using (var file = new FileStream(Path.Combine(mountDir, Volume.DiskFileName), FileMode.Open, FileAccess.ReadWrite))
        {
            file.Position = 123457;
            file.Write(written);
            file.Flush(flushToDisk: true);
        }

        await Client.UnmountAsync(mountDir);
        string after = ImageDir.Combine("after.raw");
        EncryptedImages.ConvertToRaw(image, "s3cret", after);
        byte[] model = File.ReadAllBytes(ImageDir.Combine("expected.raw"));
        written.CopyTo(model, 123457);
        var check = EncryptedImages.Check(image, "s3cret");
        Assert.Multiple(() =>
        {
            Assert.That(File.ReadAllBytes(after), Is.EqualTo(model));
            Assert.That(check.ExitCode, Is.Zero, check.StandardOutput + check.StandardError);
        });
    }
}
