using System.Security.Cryptography;

namespace Qcow2Mount.Cli.Tests;

/// <summary>
/// Commands that read guest data take an encrypted image's password from --password-file: convert and hash give
/// what qemu-img decrypts; a missing or wrong password is one line and exit 14; nothing is written.
/// </summary>
[TestFixture]
internal sealed class EncryptedCliTests
{
    private TempDir _dir = null!;
    private string _luks = null!;
    private string _aes = null!;

    [OneTimeSetUp]
    public void CreateImages()
    {
        Qemu.RequireInstalled();
        _dir = new TempDir("cli-crypt");
        _luks = _dir.Combine("luks.qcow2");
        _aes = _dir.Combine("aes.qcow2");
        EncryptedImages.Create(_luks, "open sesame", size: "6M");
        EncryptedImages.Create(_aes, "open sesame", "encrypt.format=aes", size: "6M");
        foreach (string image in new[] { _luks, _aes })
        {
            EncryptedImages.QemuIo(EncryptedImages.ImageOpts(image), "open sesame", "write -P 0x3c 0 100k", "write -P 0x3d 5M 4097");
        }

        File.WriteAllText(_dir.Combine("right"), "open sesame\n");
        File.WriteAllText(_dir.Combine("wrong"), "open barley\n");
    }

    [OneTimeTearDown]
    public void DeleteImages() => _dir?.Dispose();

    private string Expected(string image)
    {
        string raw = _dir.Combine(Path.GetFileName(image) + ".qemu.raw");
        if (!File.Exists(raw))
        {
            EncryptedImages.ConvertToRaw(image, "open sesame", raw);
        }

        return raw;
    }

    private static string Sha256(string file) => Convert.ToHexStringLower(SHA256.HashData(File.ReadAllBytes(file)));

    [TestCase("luks.qcow2")]
    [TestCase("aes.qcow2")]
    public void Convert_and_hash_give_what_qemu_img_decrypts(string name)
    {
        string image = _dir.Combine(name);
        string raw = _dir.Combine(name + ".ours.raw");
        string qcow2 = _dir.Combine(name + ".ours.qcow2");

        CliRunner.Run("convert", "--password-file", _dir.Combine("right"), image, raw).Succeeded();
        CliRunner.Run("convert", "-O", "qcow2", "--password-file", _dir.Combine("right"), image, qcow2).Succeeded();
        var hash = CliRunner.Run("hash", "--json", "--password-file", _dir.Combine("right"), image).Succeeded();

        Assert.Multiple(() =>
        {
            Assert.That(File.ReadAllBytes(raw), Is.EqualTo(File.ReadAllBytes(Expected(image))));
            Assert.That(Qemu.ImgIn(_dir.Path, "compare", "-f", "qcow2", "-F", "raw", qcow2, Expected(image)), Does.Contain("identical"),
                "the qcow2 copy is plain and equal");
            Assert.That(hash.Output, Does.Contain(Sha256(Expected(image))));
        });
    }

    [Test]
    public void A_missing_or_wrong_password_is_exit_14_in_one_line_and_writes_nothing()
    {
        byte[] before = File.ReadAllBytes(_luks);
        string raw = _dir.Combine("never.raw");

        var missing = CliRunner.Run("convert", _luks, raw);
        var wrong = CliRunner.Run("hash", "--password-file", _dir.Combine("wrong"), _luks);
        var noFile = CliRunner.Run("hash", "--password-file", _dir.Combine("nothing-here"), _luks);

        Assert.Multiple(() =>
        {
            Assert.That(missing.ExitCode, Is.EqualTo(14));
            Assert.That(missing.Error.Trim(), Is.EqualTo($"qcow2mount: {_luks}: image is encrypted (LUKS); give its password (--password-file FILE)"));
            Assert.That(File.Exists(raw), Is.False, "no destination without the password");
            Assert.That(wrong.ExitCode, Is.EqualTo(14));
            Assert.That(wrong.Error.Trim(), Is.EqualTo($"qcow2mount: {_luks}: wrong password: it opens none of the image's LUKS key slots"));
            Assert.That(noFile.ExitCode, Is.EqualTo(1));
            Assert.That(noFile.Error.Trim().Split('\n'), Has.Length.EqualTo(1));
            Assert.That(File.ReadAllBytes(_luks), Is.EqualTo(before));
        });
    }

    /// <summary>Snapshots and resize change metadata only: no password needed, and QEMU still decrypts the result.</summary>
    [Test]
    public void Snapshot_and_resize_work_without_the_password()
    {
        string image = _dir.Combine("meta.qcow2");
        File.Copy(_aes, image);

        CliRunner.Run("snapshot", "create", image, "before").Succeeded();
        CliRunner.Run("resize", image, "+1M").Succeeded();
        CliRunner.Run("snapshot", "apply", image, "before").Succeeded();
        CliRunner.Run("snapshot", "delete", image, "before").Succeeded();

        var check = EncryptedImages.Check(image, "open sesame");
        Assert.That(check.ExitCode, Is.Zero, check.StandardOutput + check.StandardError);
        string raw = _dir.Combine("meta.raw");
        EncryptedImages.ConvertToRaw(image, "open sesame", raw);
        Assert.That(File.ReadAllBytes(raw), Is.EqualTo(File.ReadAllBytes(Expected(_aes))));
    }

    /// <summary>
    /// At a terminal (here a pseudo-terminal from util-linux's script) without --password-file, convert asks for the
    /// password without echoing it, then converts.
    /// </summary>
    [Test]
    public void At_a_terminal_the_password_is_asked_for()
    {
        string script = ExternalTool.RequireTool("script");
        string directory = TestContext.CurrentContext.TestDirectory;
        bool underDotnet = Path.GetFileNameWithoutExtension(Environment.ProcessPath) == "dotnet";
        string cli = underDotnet ? $"'{Environment.ProcessPath}' '{Path.Combine(directory, "qcow2mount.dll")}'" : $"'{Path.Combine(directory, "qcow2mount")}'";
        string raw = _dir.Combine("prompted.raw");
        string typed = _dir.Combine("typed");
        // Typed after a pause, as a person would: the prompt must be waiting for it, not read ahead of it.
        File.WriteAllText(typed, "open sesame\r");

        var result = ExternalTool.Run("sh", ["-c", $"(sleep 2; cat '{typed}') | '{script}' -qec \"{cli} convert '{_luks}' '{raw}'\" /dev/null"],
            timeout: TimeSpan.FromSeconds(60));

        Assert.Multiple(() =>
        {
            Assert.That(result.ExitCode, Is.Zero, result.StandardOutput + result.StandardError);
            Assert.That(result.StandardOutput, Does.Contain($"Password for {_luks}: "));
            Assert.That(result.StandardOutput, Does.Not.Contain("open sesame"), "the password is not echoed");
            Assert.That(File.ReadAllBytes(raw), Is.EqualTo(File.ReadAllBytes(Expected(_luks))));
        });
    }

    /// <summary>Growing over a longer backing file writes zeros that must be encrypted: refused untouched without the password.</summary>
    [Test]
    public void Resize_over_a_longer_backing_file_needs_the_password()
    {
        string d = _dir.Path;
        Qemu.ImgIn(d, "create", "-q", "-f", "qcow2", "long-base.qcow2", "8M");
        Qemu.Io(d, "long-base.qcow2", "write -P 0x77 0 8M");
        string top = _dir.Combine("short-top.qcow2");
        EncryptedImages.Create(top, "open sesame", size: "4M", extraOptions: "backing_file=long-base.qcow2,backing_fmt=qcow2");
        byte[] before = File.ReadAllBytes(top);

        var refused = CliRunner.Run("resize", top, "8M");
        Assert.That(refused.ExitCode, Is.EqualTo(14), refused.Error);
        Assert.That(File.ReadAllBytes(top), Is.EqualTo(before), "the refused resize left the image as it was");

        CliRunner.Run("resize", "--password-file", _dir.Combine("right"), top, "8M").Succeeded();
        string raw = _dir.Combine("grown.raw");
        EncryptedImages.ConvertToRaw(top, "open sesame", raw);
        byte[] guest = File.ReadAllBytes(raw);
        var check = EncryptedImages.Check(top, "open sesame");
        Assert.Multiple(() =>
        {
            Assert.That(check.ExitCode, Is.Zero, check.StandardOutput + check.StandardError);
            Assert.That(guest.AsSpan(0, 4 << 20).ToArray(), Is.All.EqualTo(0x77), "the old area shows the backing file");
            Assert.That(guest.AsSpan(4 << 20).ToArray(), Is.All.EqualTo(0), "the new area hides it");
        });
    }

    [Test]
    public void Check_and_snapshot_list_need_no_password()
    {
        Assert.Multiple(() =>
        {
            Assert.That(CliRunner.Run("check", _luks).ExitCode, Is.Zero);
            Assert.That(CliRunner.Run("snapshot", "list", _luks).ExitCode, Is.Zero);
            Assert.That(CliRunner.Run("info", _aes).Succeeded().Output, Does.Contain("encrypted: yes"));
        });
    }
}
