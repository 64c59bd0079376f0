using System.Buffers.Binary;
using System.Text;
using NUnit.Framework;
using Qcow2Mount.Qcow2.Crypto;
using Qcow2Mount.TestSupport;

namespace Qcow2Mount.Qcow2.Tests.Crypto;

/// <summary>
/// Encrypted images QEMU writes (LUKS with each cipher mode QEMU offers for AES, and legacy AES) read exactly as
/// <c>qemu-img convert</c> decrypts them; a missing or wrong password is a one-line error, never garbage.
/// </summary>
[TestFixture]
internal sealed class EncryptedImageTests
{
    private const string Password = "correct horse";
    private TempDir _dir = null!;

    [OneTimeSetUp]
    public void RequireQemu() => _ = QemuTools.QemuImg;

    [SetUp]
    public void CreateDir() => _dir = new TempDir("engine-crypt");

    [TearDown]
    public void DeleteDir() => _dir.Dispose();

    private string Create(string name, string encrypt, string size = "8M", string? clusterSize = null)
    {
        string image = _dir.Combine(name);
        EncryptedImages.Create(image, Password, encrypt, size, clusterSize is null ? null : $"cluster_size={clusterSize}");
        return image;
    }

    private static void QemuWrite(string image, params string[] commands) => EncryptedImages.QemuIo(EncryptedImages.ImageOpts(image), Password, commands);

    /// <summary>What qemu-img decrypts the guest to.</summary>
    private byte[] QemuGuest(string image, string? snapshot = null)
    {
        string raw = _dir.Combine(Guid.NewGuid().ToString("N") + ".raw");
        EncryptedImages.ConvertToRaw(image, Password, raw, snapshot);
        byte[] bytes = File.ReadAllBytes(raw);
        File.Delete(raw);
        return bytes;
    }

    private static byte[] ReadAll(Qcow2Image disk, int chunk)
    {
        byte[] bytes = new byte[disk.Length];
        for (long at = 0; at < bytes.Length; at += chunk)
        {
            disk.ReadAt(at, bytes.AsSpan((int)at, (int)Math.Min(chunk, bytes.Length - at)));
        }

        return bytes;
    }

    private static Qcow2OpenOptions WithPassword(string password = Password) => new() { Password = Encoding.UTF8.GetBytes(password) };

    private static readonly string[] Writes =
    [
        "write -P 0x11 0 64k", "write -P 0x22 100k 3k", "write -P 0x33 1M 1M", "write -P 0x44 3000000 12345",
        "write -z 1536k 64k", "write -P 0x55 8320k 64k",
    ];

    private static IEnumerable<TestCaseData> Ciphers()
    {
        yield return new TestCaseData(EncryptedImages.Luks).SetName("LUKS aes-256-xts-plain64 sha256 (QEMU's default)");
        yield return new TestCaseData("encrypt.format=luks,encrypt.iter-time=50,encrypt.cipher-alg=aes-128,encrypt.cipher-mode=cbc,encrypt.ivgen-alg=essiv,encrypt.ivgen-hash-alg=sha256,encrypt.hash-alg=sha1")
            .SetName("LUKS aes-128-cbc-essiv:sha256 sha1");
        yield return new TestCaseData("encrypt.format=luks,encrypt.iter-time=50,encrypt.cipher-alg=aes-256,encrypt.cipher-mode=cbc,encrypt.ivgen-alg=plain64,encrypt.hash-alg=sha512")
            .SetName("LUKS aes-256-cbc-plain64 sha512");
        yield return new TestCaseData("encrypt.format=luks,encrypt.iter-time=50,encrypt.cipher-alg=aes-128,encrypt.cipher-mode=xts,encrypt.ivgen-alg=plain,encrypt.hash-alg=sha384")
            .SetName("LUKS aes-128-xts-plain sha384");
        yield return new TestCaseData("encrypt.format=aes").SetName("legacy AES");
    }

    [TestCaseSource(nameof(Ciphers))]
    public void Reads_equal_what_qemu_img_decrypts(string encrypt)
    {
        string image = Create("enc.qcow2", encrypt, size: "9M");
        QemuWrite(image, Writes);
        byte[] expected = QemuGuest(image);

        using var disk = Qcow2Image.Open(image, WithPassword());
        Assert.Multiple(() =>
        {
            Assert.That(ReadAll(disk, 1 << 20), Is.EqualTo(expected), "1 MiB reads");
            Assert.That(ReadAll(disk, 3000), Is.EqualTo(expected), "reads that start and end inside sectors");
            Assert.That(disk.TryMapRead(0, 4096, new HostSegment[8], out _), Is.False, "ciphertext is never handed out as host ranges");
        });
    }

    [Test]
    public void Clusters_of_512_bytes_and_2_MiB_read_right()
    {
        foreach (string clusterSize in new[] { "512", "2M" })
        {
            string image = Create($"c{clusterSize}.qcow2", EncryptedImages.Luks, "6M", clusterSize);
            QemuWrite(image, "write -P 0x61 511 2k", "write -P 0x62 4M 1537");
            using var disk = Qcow2Image.Open(image, WithPassword());
            Assert.That(ReadAll(disk, 65536), Is.EqualTo(QemuGuest(image)), $"cluster size {clusterSize}");
        }
    }

    [Test]
    public void Snapshots_and_an_unencrypted_overlay_read_through_the_password()
    {
        string image = Create("base.qcow2", EncryptedImages.Luks);
        QemuWrite(image, "write -P 0x71 0 2M");
        QemuTools.Ok(QemuTools.QemuImg, "snapshot", "--object", EncryptedImages.Secret(Password), "--image-opts", EncryptedImages.ImageOpts(image), "-c", "before");
        QemuWrite(image, "write -P 0x72 1M 64k");
        string overlay = _dir.Combine("overlay.qcow2");
        QemuTools.Ok(QemuTools.QemuImg, "create", "-q", "-f", "qcow2", "-b", image, "-F", "qcow2", overlay);
        EncryptedImages.QemuIo($"driver=qcow2,file.filename={overlay},backing.encrypt.key-secret=sec0", Password, "write -P 0x73 4M 64k");

        using (var snapshot = Qcow2Image.Open(image, WithPassword() with { Snapshot = "before" }))
        {
            Assert.That(ReadAll(snapshot, 1 << 20), Is.EqualTo(QemuGuest(image, "before")));
        }

        byte[] expected = QemuGuest(image);
        expected.AsSpan(4 << 20, 65536).Fill(0x73);
        using var top = Qcow2Image.Open(overlay, WithPassword());
        Assert.That(ReadAll(top, 1 << 20), Is.EqualTo(expected));
    }

    [TestCaseSource(nameof(Ciphers))]
    public void A_missing_or_wrong_password_is_one_clear_error(string encrypt)
    {
        string image = Create("locked.qcow2", encrypt);
        byte[] before = File.ReadAllBytes(image);

        var missing = Assert.Throws<Qcow2Exception>(() => Qcow2Image.Open(image).Dispose())!;
        Assert.Multiple(() =>
        {
            Assert.That(missing.Code, Is.EqualTo(Qcow2ErrorCode.Password));
            Assert.That(missing.Message, Does.StartWith($"{image}: image is encrypted").And.Contain("password"));
        });
        if (encrypt.Contains("luks"))
        {
            var wrong = Assert.Throws<Qcow2Exception>(() => Qcow2Image.Open(image, WithPassword("hunter2")).Dispose())!;
            Assert.That(wrong.Code, Is.EqualTo(Qcow2ErrorCode.Password));
            Assert.That(wrong.Message, Is.EqualTo($"{image}: wrong password: it opens none of the image's LUKS key slots"));
        }

        using (var metadata = Qcow2Image.Open(image, new Qcow2OpenOptions { MetadataOnly = true }))
        {
            Assert.That(metadata.Encryption!.Method, Is.EqualTo(encrypt.Contains("luks") ? Qcow2Mount.Qcow2.Format.CryptMethod.Luks : Qcow2Mount.Qcow2.Format.CryptMethod.Aes));
            Assert.That(metadata.Length, Is.EqualTo(8 << 20));
        }

        var writable = Assert.Throws<Qcow2Exception>(() => Qcow2Image.Open(image, new Qcow2OpenOptions { Writable = true }).Dispose())!;
        Assert.That(writable.Code, Is.EqualTo(Qcow2ErrorCode.Password));
        Assert.That(File.ReadAllBytes(image), Is.EqualTo(before), "no open wrote a byte");
    }

    /// <summary>
    /// Writes of every shape (inside one sector, across sector and cluster edges, over a snapshot's shared
    /// clusters, zeroing) land encrypted as QEMU would write them: qemu-img decrypts exactly what a plain model
    /// received, and qemu-img check calls the image clean.
    /// </summary>
    [TestCaseSource(nameof(Ciphers))]
    public void Writes_are_what_qemu_img_decrypts_and_check_calls_clean(string encrypt)
    {
        string image = Create("write.qcow2", encrypt, size: "5M");
        QemuWrite(image, "write -P 0x11 0 192k", "write -P 0x12 2M 64k");
        QemuTools.Ok(QemuTools.QemuImg, "snapshot", "--object", EncryptedImages.Secret(Password), "--image-opts", EncryptedImages.ImageOpts(image), "-c", "shared");
        byte[] model = QemuGuest(image);
        byte[] before = QemuGuest(image, "shared");
        var random = new Random(1234);

        using (var disk = Qcow2Image.Open(image, WithPassword() with { Writable = true }))
        {
            void Write(long offset, int length)
            {
                byte[] data = new byte[length];
                random.NextBytes(data);
                disk.WriteAt(offset, data);
                data.CopyTo(model.AsSpan((int)offset));
            }

            Write(100, 7);                 // inside one sector of a shared (snapshot) cluster: copy on write
            Write(65536 + 500, 30);        // across a sector edge
            Write(65536 + 1000, 70000);    // across a cluster edge, unaligned both ends
            Write(3 << 20, 4096);          // a new cluster, partly
            Write((3 << 20) + 4096 + 3, 5);  // then in place, inside a sector
            Write(2 << 20, 64 << 10);      // a whole cluster over a shared one
            Write((4 << 20) + 65536, 3 * 65536); // a run of new clusters
            Write((4 << 20) + 65536, 3 * 65536); // the same run again, in place
            disk.WriteZeroes(1 << 20, 65536 + 1000);
            model.AsSpan(1 << 20, 65536 + 1000).Clear();
            for (int i = 0; i < 200; i++)
            {
                Write(random.Next(model.Length - 5000), random.Next(1, 5000));
            }

            disk.Flush();
            Assert.That(ReadAll(disk, 1 << 20), Is.EqualTo(model), "we read back what we wrote");
        }

        var check = EncryptedImages.Check(image, Password);
        Assert.Multiple(() =>
        {
            Assert.That(check.ExitCode, Is.Zero, check.StandardOutput + check.StandardError);
            Assert.That(QemuGuest(image), Is.EqualTo(model), "qemu-img decrypts what we wrote");
            Assert.That(QemuGuest(image, "shared"), Is.EqualTo(before), "the snapshot kept its data");
        });
    }

    [Test]
    public void Compressed_writes_and_writes_without_the_password_are_refused()
    {
        string image = Create("refuse.qcow2", EncryptedImages.Luks);
        using (var disk = Qcow2Image.Open(image, WithPassword() with { Writable = true }))
        {
            var compressed = Assert.Throws<Qcow2Exception>(() => disk.WriteCompressed(0, new byte[disk.ClusterSize]))!;
            Assert.That(compressed.Message, Does.Contain("cannot be stored in an encrypted image"));
        }

        using (var metadata = Qcow2Image.Open(image, new Qcow2OpenOptions { Writable = true, MetadataOnly = true }))
        {
            var write = Assert.Throws<Qcow2Exception>(() => metadata.WriteAt(0, new byte[512]))!;
            Assert.That(write.Code, Is.EqualTo(Qcow2ErrorCode.Password));
            metadata.CreateSnapshot("metadata only");
        }

        var check = EncryptedImages.Check(image, Password);
        Assert.That(check.ExitCode, Is.Zero, check.StandardOutput + check.StandardError);
    }

    [Test]
    public void Luks_header_fields_are_read_as_qemu_img_reports_them()
    {
        string image = Create("fields.qcow2", EncryptedImages.Luks);
        var info = QemuTools.Info(image).GetProperty("format-specific").GetProperty("data").GetProperty("encrypt");

        using var disk = Qcow2Image.Open(image, new Qcow2OpenOptions { MetadataOnly = true });
        var luks = disk.Encryption!.Luks!;
        Assert.Multiple(() =>
        {
            Assert.That(luks.CipherName + "-" + luks.KeyBytes * 4, Is.EqualTo("aes-" + info.GetProperty("cipher-alg").GetString()!.Split('-')[1]));
            Assert.That(luks.CipherMode, Is.EqualTo("xts-plain64"));
            Assert.That(luks.HashSpec, Is.EqualTo(info.GetProperty("hash-alg").GetString()));
            Assert.That(luks.Uuid, Is.EqualTo(info.GetProperty("uuid").GetString()));
            Assert.That(luks.MasterKeyDigestIterations, Is.EqualTo(info.GetProperty("master-key-iters").GetUInt32()));
            Assert.That(luks.Slots[0].Iterations, Is.EqualTo(info.GetProperty("slots")[0].GetProperty("iters").GetUInt32()));
        });
    }

    /// <summary>A LUKS header rewritten to ask for absurd work or memory is refused before any of it is done.</summary>
    [TestCase(164, 0xFFFFFFFFu, "master key digest iterations")]
    [TestCase(208 + 4, 0x7FFFFFFFu, "key slot 0 would take the unlock past")]
    [TestCase(8, 0x1B5B3331u, "a text field")]
    [TestCase(208 + 4, 0xFFFFFFFFu, "key slot 0 iterations")]
    [TestCase(208 + 44, 0x7FFFFFFFu, "key slot 0 has")]
    [TestCase(208 + 40, 0x7FFFFFFFu, "key slot 0 material")]
    [TestCase(108, 1000u, "key size")]
    [TestCase(208, 0x12345678u, "key slot 0 has an invalid state")]
    public void Hostile_luks_headers_are_refused(int field, uint value, string message)
    {
        string image = Create("hostile.qcow2", EncryptedImages.Luks);
        long luksOffset;
        using (var disk = Qcow2Image.Open(image, new Qcow2OpenOptions { MetadataOnly = true }))
        {
            luksOffset = disk.Encryption!.LuksOffset;
        }

        using (var file = File.OpenHandle(image, FileMode.Open, FileAccess.ReadWrite))
        {
            byte[] bytes = new byte[4];
            BinaryPrimitives.WriteUInt32BigEndian(bytes, value);
            RandomAccess.Write(file, bytes, luksOffset + field);
        }

        var e = Assert.Throws<Qcow2Exception>(() => Qcow2Image.Open(image, WithPassword()).Dispose())!;
        Assert.That(e.Message, Does.StartWith(image + ": LUKS header: " + message));
    }

    /// <summary>
    /// Opens that share <see cref="UnlockedKeys"/> (a mount's snapshot views) run PBKDF2 once: with the key slot's
    /// material wiped after the first open, the next open still succeeds with the shared keys and fails without.
    /// </summary>
    [Test]
    public void Shared_unlocked_keys_spare_the_second_unlock()
    {
        string image = Create("shared.qcow2", EncryptedImages.Luks);
        QemuWrite(image, "write -P 0x4b 0 64k");
        var keys = new UnlockedKeys();
        long material;
        using (var first = Qcow2Image.Open(image, WithPassword() with { UnlockedKeys = keys }))
        {
            var luks = first.Encryption!.Luks!;
            material = first.Encryption.LuksOffset + (luks.Slots[0].KeyMaterialSector * 512L);
        }

        using (var file = File.OpenHandle(image, FileMode.Open, FileAccess.ReadWrite))
        {
            RandomAccess.Write(file, new byte[4096], material);
        }

        using (var second = Qcow2Image.Open(image, WithPassword() with { UnlockedKeys = keys }))
        {
            byte[] data = new byte[4096];
            second.ReadAt(0, data);
            Assert.That(data, Is.All.EqualTo(0x4b));
        }

        var unshared = Assert.Throws<Qcow2Exception>(() => Qcow2Image.Open(image, WithPassword()).Dispose())!;
        Assert.That(unshared.Code, Is.EqualTo(Qcow2ErrorCode.Password));
    }

    [Test]
    public void Xts_matches_the_ieee_1619_test_vector()
    {
        // IEEE P1619 / XTS-AES-128 vector 2: key1 = 0x11.., key2 = 0x22.., sector 0x3333333333, plaintext 0x44...
        byte[] key = [.. Enumerable.Repeat((byte)0x11, 16), .. Enumerable.Repeat((byte)0x22, 16)];
        byte[] sector = new byte[SectorCipher.SectorSize];
        sector.AsSpan(0, 32).Fill(0x44);
        using var xts = new XtsAesCipher(key);
        xts.Encrypt(0x3333333333, sector);
        Assert.That(Convert.ToHexString(sector, 0, 32), Is.EqualTo("C454185E6A16936E39334038ACEF838BFB186FFF7480ADC4289382ECD6D394F0"));
    }
}
