using System.Security.Cryptography;
using System.Text.Json;

namespace Qcow2Mount.Cli.Tests;

/// <summary><c>hash</c> digests the guest bytes: what hashing the output of <c>qemu-img convert -O raw</c> gives.</summary>
[TestFixture]
internal sealed class HashTests
{
    private TempDir _dir = null!;

    [OneTimeSetUp]
    public void CreateImages()
    {
        Qemu.RequireInstalled();
        _dir = new TempDir("cli-hash");
        string d = _dir.Path;
        // Several 4 MiB hash chunks, an odd size, data, compressed clusters, zeros and holes across chunk edges.
        string[] writes =
        [
            "write -P 0x11 0 1M", "write -c -P 0x22 2M 64k", "write -z 3M 1M", "write -P 0x33 4095k 2M",
            "write -c -P 0x55 10M 128k", "write -P 0x44 13376k 1k",
        ];
        Qemu.ImgIn(d, "create", "-q", "-f", "qcow2", "plain.qcow2", "13377k");
        Qemu.Io(d, "plain.qcow2", writes);
        Qemu.ImgIn(d, "snapshot", "-c", "before", "plain.qcow2");
        Qemu.Io(d, "plain.qcow2", "write -P 0x66 0 64k");
        Qemu.ImgIn(d, "create", "-q", "-f", "qcow2", "-o", "compression_type=zstd,extended_l2=on", "zstd.qcow2", "9M");
        Qemu.Io(d, "zstd.qcow2", "write -c -P 0x77 0 2M", "write -P 0x78 5M 4k");
        Qemu.ImgIn(d, "create", "-q", "-f", "qcow2", "-b", "plain.qcow2", "-F", "qcow2", "overlay.qcow2");
        Qemu.Io(d, "overlay.qcow2", "write -P 0x77 1M 1M", "write -z 2M 64k");
    }

    [OneTimeTearDown]
    public void DeleteImages() => _dir?.Dispose();

    /// <summary>The four digests of what qemu-img converts the image (or one of its snapshots) to.</summary>
    private Dictionary<string, string> QemuDigests(string image, string? snapshot = null)
    {
        string raw = _dir.Combine(image + (snapshot ?? "") + ".qemu.raw");
        string[] select = snapshot is null ? [] : ["-l", snapshot];
        Qemu.ImgIn(_dir.Path, ["convert", .. select, "-O", "raw", image, raw]);
        byte[] bytes = File.ReadAllBytes(raw);
        File.Delete(raw);
        return new()
        {
            ["md5"] = Convert.ToHexStringLower(MD5.HashData(bytes)),
            ["sha1"] = Convert.ToHexStringLower(SHA1.HashData(bytes)),
            ["sha256"] = Convert.ToHexStringLower(SHA256.HashData(bytes)),
            ["sha512"] = Convert.ToHexStringLower(SHA512.HashData(bytes)),
        };
    }

    private static Dictionary<string, string> ParseLines(string output) =>
        output.Split('\n', StringSplitOptions.RemoveEmptyEntries)
            .Select(line => line.Split("  "))
            .ToDictionary(parts => parts[0], parts => parts[1]);

    [TestCase("plain.qcow2")]
    [TestCase("zstd.qcow2")]
    [TestCase("overlay.qcow2")]
    public void Digests_equal_those_of_qemu_img_convert_output(string image)
    {
        string path = _dir.Combine(image);
        byte[] before = File.ReadAllBytes(path);

        var result = CliRunner.Run("hash", "-a", "md5,sha1,sha256,sha512", path).Succeeded();

        Assert.That(ParseLines(result.Output), Is.EqualTo(QemuDigests(image)));
        Assert.That(File.ReadAllBytes(path), Is.EqualTo(before), "hash changed the image");
    }

    [Test]
    public void Sha256_is_the_default_and_a_snapshot_can_be_hashed()
    {
        var active = CliRunner.Run("hash", _dir.Combine("plain.qcow2")).Succeeded();
        var snapshot = CliRunner.Run("hash", "--snapshot", "before", _dir.Combine("plain.qcow2")).Succeeded();

        Assert.Multiple(() =>
        {
            Assert.That(ParseLines(active.Output), Is.EqualTo(new Dictionary<string, string> { ["sha256"] = QemuDigests("plain.qcow2")["sha256"] }));
            Assert.That(ParseLines(snapshot.Output)["sha256"], Is.EqualTo(QemuDigests("plain.qcow2", "before")["sha256"]));
        });
    }

    [Test]
    public void Json_names_the_image_its_size_and_each_digest()
    {
        var result = CliRunner.Run("hash", "--json", "-a", "sha1,md5", _dir.Combine("zstd.qcow2")).Succeeded();

        using var json = JsonDocument.Parse(result.Output);
        var root = json.RootElement;
        var expected = QemuDigests("zstd.qcow2");
        Assert.Multiple(() =>
        {
            Assert.That(root.GetProperty("image").GetString(), Is.EqualTo(_dir.Combine("zstd.qcow2")));
            Assert.That(root.GetProperty("virtual-size").GetInt64(), Is.EqualTo(9L << 20));
            Assert.That(root.GetProperty("sha1").GetString(), Is.EqualTo(expected["sha1"]));
            Assert.That(root.GetProperty("md5").GetString(), Is.EqualTo(expected["md5"]));
        });
    }

    [Test]
    public void A_raw_image_hashes_as_its_file()
    {
        string raw = _dir.Combine("file.raw");
        var bytes = new byte[(5 << 20) + 123];
        new Random(7).NextBytes(bytes);
        File.WriteAllBytes(raw, bytes);

        var result = CliRunner.Run("hash", "-f", "raw", raw).Succeeded();

        Assert.That(ParseLines(result.Output)["sha256"], Is.EqualTo(Convert.ToHexStringLower(SHA256.HashData(bytes))));
    }

    /// <summary>A read failing half-way (data past the end of a truncated image) ends the command with one line.</summary>
    [Test]
    public void A_read_failing_half_way_is_a_one_line_error()
    {
        Qemu.ImgIn(_dir.Path, "create", "-q", "-f", "qcow2", "cut.qcow2", "40M");
        Qemu.Io(_dir.Path, "cut.qcow2", "write -P 0x11 0 40M");
        using (var file = File.OpenHandle(_dir.Combine("cut.qcow2"), FileMode.Open, FileAccess.ReadWrite))
        {
            RandomAccess.SetLength(file, 24 << 20);
        }

        var result = CliRunner.Run("hash", _dir.Combine("cut.qcow2"));

        Assert.Multiple(() =>
        {
            Assert.That(result.ExitCode, Is.EqualTo(6), result.Error);
            Assert.That(result.Error, Does.Contain("past the end of the image"));
            Assert.That(result.Error.Trim().Split('\n'), Has.Length.EqualTo(1));
            Assert.That(result.Output, Is.Empty);
        });
    }

    /// <summary>Like a mount, hash holds QEMU's reader locks: an image a VM writes is refused unless -U.</summary>
    [Test]
    public void An_image_QEMU_is_writing_is_hashed_only_with_force_share()
    {
        // Its own image: another test hashing a shared one would hold the locks that keep qemu-io out.
        Qemu.ImgIn(_dir.Path, "create", "-q", "-f", "qcow2", "live.qcow2", "4M");
        string image = _dir.Combine("live.qcow2");
        using var vm = QemuWriter.Hold(image);

        var refused = CliRunner.Run("hash", image);
        var forced = CliRunner.Run("hash", "-U", image);

        Assert.Multiple(() =>
        {
            Assert.That(refused.ExitCode, Is.EqualTo(10));
            Assert.That(refused.Error, Does.Contain("in use by another program"));
            Assert.That(forced.ExitCode, Is.Zero, forced.Error);
        });
    }

    [Test]
    public void Bad_algorithms_and_missing_images_are_one_line_errors()
    {
        var unknown = CliRunner.Run("hash", "-a", "sha256,crc32", _dir.Combine("plain.qcow2"));
        var missing = CliRunner.Run("hash", _dir.Combine("nothing.qcow2"));

        Assert.Multiple(() =>
        {
            Assert.That(unknown.ExitCode, Is.EqualTo(1));
            Assert.That(unknown.Error, Does.Contain("unknown algorithm"));
            Assert.That(missing.ExitCode, Is.EqualTo(7));
            Assert.That(missing.Error.Trim().Split('\n'), Has.Length.EqualTo(1));
        });
    }
}
