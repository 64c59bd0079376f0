using System.Text.Json.Nodes;

namespace Qcow2Mount.Cli.Tests;

/// <summary><c>info</c> must print what qemu-img info prints, for text and JSON, image by image.</summary>
[TestFixture]
internal sealed class InfoTests
{
    private TempDir _dir = null!;

    [OneTimeSetUp]
    public void CreateImages()
    {
        Qemu.RequireInstalled();
        _dir = new TempDir("cli");
        string d = _dir.Path;

        Qemu.ImgIn(d, "create", "-q", "-f", "qcow2", "plain.qcow2", "64M");
        Qemu.Io(d, "plain.qcow2", "write -P 1 0 1M");
        Qemu.ImgIn(d, "snapshot", "-c", "first", "plain.qcow2");
        Qemu.Io(d, "plain.qcow2", "write -P 2 0 64k");
        Qemu.ImgIn(d, "snapshot", "-c", "second one", "plain.qcow2");

        Qemu.ImgIn(d, "create", "-q", "-f", "qcow2", "-o", "compat=0.10", "v2.qcow2", "10M");
        Qemu.ImgIn(d, "snapshot", "-c", "old", "v2.qcow2");

        Qemu.ImgIn(d, "create", "-q", "-f", "qcow2", "-o", "compression_type=zstd", "zstd.qcow2", "8M");
        Qemu.Io(d, "zstd.qcow2", "write -c -P 7 0 64k", "write -P 9 1M 64k");

        Qemu.ImgIn(d, "create", "-q", "-f", "qcow2", "-o", "extended_l2=on,lazy_refcounts=on,refcount_bits=8,cluster_size=128k",
            "extl2.qcow2", "20M");
        Qemu.Io(d, "extl2.qcow2", "write -P 3 4k 4k");

        Qemu.ImgIn(d, "create", "-q", "-f", "qcow2", "-o", "data_file=data-raw.bin,data_file_raw=on", "datafile-raw.qcow2", "4M");
        Qemu.Io(d, "datafile-raw.qcow2", "write -P 5 0 128k");
        Qemu.ImgIn(d, "create", "-q", "-f", "qcow2", "-o", "data_file=data.bin", "datafile.qcow2", "4M");

        File.Copy(_dir.Combine("plain.qcow2"), _dir.Combine("dirty.qcow2"));
        SetIncompatibleBits(_dir.Combine("dirty.qcow2"), 0x1);
        File.Copy(_dir.Combine("plain.qcow2"), _dir.Combine("corrupt.qcow2"));
        SetIncompatibleBits(_dir.Combine("corrupt.qcow2"), 0x2);

        // A chain across folders, named relatively: raw <- qcow2 with snapshots <- qcow2.
        Directory.CreateDirectory(_dir.Combine("sub"));
        Qemu.ImgIn(d, "create", "-q", "-f", "raw", "sub/base.raw", "16M");
        Qemu.Io(d, "sub/base.raw", "write -P 1 0 1M");
        Qemu.ImgIn(d, "create", "-q", "-f", "qcow2", "-b", "base.raw", "-F", "raw", "sub/mid.qcow2", "32M");
        Qemu.ImgIn(d, "snapshot", "-c", "s1", "sub/mid.qcow2");
        Qemu.ImgIn(d, "create", "-q", "-f", "qcow2", "-b", "sub/mid.qcow2", "-F", "qcow2", "top.qcow2");
        Qemu.ImgIn(d, "create", "-q", "-f", "qcow2", "-b", "plain.qcow2", "-F", "qcow2", "unnamed-format.qcow2");
        HideBackingFormat(_dir.Combine("unnamed-format.qcow2"));

        // Encrypted: info needs no password (nor does qemu-img info). LUKS with two cipher modes, legacy AES over a
        // plain backing file, and a plain overlay over a LUKS image.
        EncryptedImages.Create(_dir.Combine("luks.qcow2"), "pw");
        EncryptedImages.Create(_dir.Combine("essiv.qcow2"), "pw",
            "encrypt.format=luks,encrypt.iter-time=50,encrypt.cipher-alg=aes-128,encrypt.cipher-mode=cbc,encrypt.ivgen-alg=essiv,encrypt.ivgen-hash-alg=sha256,encrypt.hash-alg=sha1");
        EncryptedImages.Create(_dir.Combine("aes-top.qcow2"), "pw", "encrypt.format=aes", size: "64M", extraOptions: "backing_file=plain.qcow2,backing_fmt=qcow2");
        Qemu.ImgIn(d, "create", "-q", "-f", "qcow2", "-b", "luks.qcow2", "-F", "qcow2", "over-luks.qcow2");
    }

    [OneTimeTearDown]
    public void DeleteImages() => _dir?.Dispose();

    private static readonly string[] Images =
    [
        "plain.qcow2", "v2.qcow2", "zstd.qcow2", "extl2.qcow2", "datafile-raw.qcow2", "datafile.qcow2", "dirty.qcow2",
        "corrupt.qcow2", "top.qcow2", "sub/mid.qcow2", "sub/base.raw", "unnamed-format.qcow2",
        "luks.qcow2", "essiv.qcow2", "aes-top.qcow2", "over-luks.qcow2",
    ];

    [TestCaseSource(nameof(Images))]
    public void Json_matches_qemu_img(string image) => AssertSameJson(_dir.Path, ["info", "--json", image], ["info", "--output=json", image]);

    [TestCaseSource(nameof(Images))]
    public void Json_with_backing_chain_matches_qemu_img(string image) =>
        AssertSameJson(_dir.Path, ["info", "--json", "--backing-chain", image], ["info", "--output=json", "--backing-chain", image]);

    [TestCaseSource(nameof(Images))]
    public void Text_matches_qemu_img(string image) =>
        Assert.That(CliRunner.RunIn(_dir.Path, "info", image).Succeeded().Output, Is.EqualTo(Qemu.ImgIn(_dir.Path, "info", image)));

    [TestCaseSource(nameof(Images))]
    public void Text_with_backing_chain_matches_qemu_img(string image) =>
        Assert.That(CliRunner.RunIn(_dir.Path, "info", "--backing-chain", image).Succeeded().Output,
            Is.EqualTo(Qemu.ImgIn(_dir.Path, "info", "--backing-chain", image)));

    [Test]
    public void Absolute_names_give_absolute_backing_paths() =>
        AssertSameJson(_dir.Path, ["info", "--json", "--backing-chain", _dir.Combine("top.qcow2")], ["info", "--output=json", "--backing-chain", _dir.Combine("top.qcow2")]);

    [Test]
    public void Info_works_when_the_backing_file_is_missing()
    {
        Qemu.ImgIn(_dir.Path, "create", "-q", "-u", "-f", "qcow2", "-b", "gone.qcow2", "-F", "qcow2", "orphan.qcow2", "1M");
        AssertSameJson(_dir.Path, ["info", "--json", "orphan.qcow2"], ["info", "--output=json", "orphan.qcow2"]);
    }

    [Test]
    public void Snapshot_option_describes_the_snapshot_view()
    {
        var json = JsonNode.Parse(CliRunner.Run("info", "--json", "--snapshot", "first", _dir.Combine("plain.qcow2")).Succeeded().Output)!;
        Assert.That((long)json["virtual-size"]!, Is.EqualTo(64L << 20));
    }

    [Test]
    public void Snapshot_option_with_an_unknown_snapshot_fails_with_its_own_exit_code()
    {
        var result = CliRunner.Run("info", "--snapshot", "nope", _dir.Combine("plain.qcow2"));
        Assert.That(result.ExitCode, Is.EqualTo(11));
        Assert.That(result.Error, Does.Contain("nope"));
    }

    private static void AssertSameJson(string directory, string[] ours, string[] qemu)
    {
        string expected = Qemu.ImgIn(directory, qemu);
        string actual = CliRunner.RunIn(directory, ours).Succeeded().Output;
        Assert.That(JsonNode.DeepEquals(JsonNode.Parse(actual), JsonNode.Parse(expected)), Is.True,
            $"fields differ.{Environment.NewLine}qcow2mount:{Environment.NewLine}{actual}{Environment.NewLine}qemu-img:{Environment.NewLine}{expected}");
        Assert.That(actual, Is.EqualTo(expected), "same fields, but not in qemu-img's order or layout");
    }

    /// <summary>
    /// Turns the backing-format extension into an unknown one (qemu-img 7.2 refuses to create an overlay without
    /// a backing format), so the backing file's format must be probed.
    /// </summary>
    private static void HideBackingFormat(string path)
    {
        byte[] bytes = File.ReadAllBytes(path);
        int at = bytes.AsSpan(0, 4096).IndexOf((ReadOnlySpan<byte>)[0xE2, 0x79, 0x2A, 0xCA]);
        Assert.That(at, Is.GreaterThan(0), "backing format extension not found");
        bytes[at] = 0x12;
        File.WriteAllBytes(path, bytes);
    }

    /// <summary>ORs bits into the v3 incompatible-features word (big-endian u64 at byte 72).</summary>
    private static void SetIncompatibleBits(string path, byte bits)
    {
        using var file = File.Open(path, FileMode.Open, FileAccess.ReadWrite);
        file.Position = 79;
        int current = file.ReadByte();
        file.Position = 79;
        file.WriteByte((byte)(current | bits));
    }
}
