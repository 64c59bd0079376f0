using System.Text.Json;

namespace Qcow2Mount.Cli.Tests;

/// <summary><c>map</c>, <c>compare</c> and <c>diff</c> answer as qemu-img does (map, compare, convert -l + cmp).</summary>
[TestFixture]
internal sealed class ForensicCommandTests
{
    private TempDir _dir = null!;

    [OneTimeSetUp]
    public void CreateImages()
    {
        Qemu.RequireInstalled();
        _dir = new TempDir("cli-forensic");
        string d = _dir.Path;
        Qemu.ImgIn(d, "create", "-q", "-f", "qcow2", "base.qcow2", "8M");
        Qemu.Io(d, "base.qcow2", "write -P 0x11 0 1M", "write -z 2M 64k", "write -P 0x22 5M 192k");
        Qemu.ImgIn(d, "create", "-q", "-f", "qcow2", "-b", "base.qcow2", "-F", "qcow2", "top.qcow2");
        Qemu.ImgIn(d, "snapshot", "-c", "s1", "top.qcow2");
        Qemu.Io(d, "top.qcow2", "write -P 0x33 512 512", "write -P 0x44 3M 4k", "write -z 5M 64k");
        Qemu.ImgIn(d, "snapshot", "-c", "s2", "top.qcow2");
        Qemu.Io(d, "top.qcow2", "write -P 0x55 7M 100k", "write -P 0x11 0 4k");
        Qemu.ImgIn(d, "convert", "-O", "qcow2", "top.qcow2", "flat.qcow2");
        Qemu.ImgIn(d, "convert", "-O", "raw", "top.qcow2", "flat.raw");
        Qemu.ImgIn(d, "create", "-q", "-f", "qcow2", "small.qcow2", "4M");
    }

    [OneTimeTearDown]
    public void DeleteImages() => _dir?.Dispose();

    private static ToolResult QemuImg(string directory, params string[] args) =>
        ExternalTool.Run("qemu-img", args, workingDirectory: directory);

    [TestCase("base.qcow2")]
    [TestCase("top.qcow2")]
    [TestCase("flat.raw")]
    public void Map_json_is_byte_identical_to_qemu_img(string image)
    {
        var ours = CliRunner.RunIn(_dir.Path, "map", "--output=json", image).Succeeded();
        Assert.That(ours.Output, Is.EqualTo(Qemu.ImgIn(_dir.Path, "map", "--output=json", image)));
    }

    [TestCase("v3-c64k")]
    [TestCase("comp-zlib-c64k")]
    [TestCase("el2-c64k")]
    [TestCase("chain3-top")]
    [TestCase("zero-over-backing-v3")]
    [TestCase("snap-v3")]
    [TestCase("short-backing")]
    public void Map_json_of_a_corpus_image_is_byte_identical_to_qemu_img(string name)
    {
        var entry = Corpus.Get(name);
        var ours = CliRunner.Run("map", "--output=json", entry.ImagePath).Succeeded();
        Assert.That(ours.Output, Is.EqualTo(Qemu.Img("map", "--output=json", entry.ImagePath)));
    }

    [TestCase("base.qcow2")]
    [TestCase("top.qcow2")]
    public void Map_human_form_lists_the_stored_runs_as_qemu_img_does(string image)
    {
        var ours = CliRunner.RunIn(_dir.Path, "map", image).Succeeded();
        Assert.That(ours.Output, Is.EqualTo(Qemu.ImgIn(_dir.Path, "map", image)));
    }

    [Test]
    public void Map_human_form_names_backing_files_from_the_image_path_as_given()
    {
        // qemu-img names a backing file by joining its stored name to the folder of the overlay as the user named it.
        string parent = Path.GetDirectoryName(_dir.Path)!;
        string image = Path.Combine(Path.GetFileName(_dir.Path), "top.qcow2");
        var ours = CliRunner.RunIn(parent, "map", image).Succeeded();
        Assert.That(ours.Output, Is.EqualTo(Qemu.ImgIn(parent, "map", image)));
        Assert.That(ours.Output, Does.Contain(Path.Combine(Path.GetFileName(_dir.Path), "base.qcow2")), "the backing layer's runs are listed");
    }

    [TestCase("top.qcow2", "flat.qcow2")]
    [TestCase("top.qcow2", "flat.raw")]
    [TestCase("top.qcow2", "base.qcow2")]
    [TestCase("base.qcow2", "small.qcow2")]
    [TestCase("small.qcow2", "base.qcow2")]
    public void Compare_prints_and_exits_as_qemu_img_compare(string first, string second)
    {
        foreach (string[] strict in new[] { Array.Empty<string>(), ["-s"] })
        {
            var qemu = QemuImg(_dir.Path, ["compare", .. strict, first, second]);
            var ours = CliRunner.RunIn(_dir.Path, ["compare", .. strict, first, second]);
            Assert.Multiple(() =>
            {
                Assert.That(ours.ExitCode, Is.EqualTo(qemu.ExitCode), $"{string.Join(' ', strict)} {first} {second}: {ours.Error}");
                Assert.That(ours.Output, Is.EqualTo(qemu.StandardOutput), $"{string.Join(' ', strict)} {first} {second}");
            });
        }
    }

    [Test]
    public void Compare_exits_2_when_an_image_does_not_open()
    {
        var ours = CliRunner.RunIn(_dir.Path, "compare", "base.qcow2", "missing.qcow2");
        Assert.That(ours.ExitCode, Is.EqualTo(QemuImg(_dir.Path, "compare", "base.qcow2", "missing.qcow2").ExitCode).And.EqualTo(2));
        Assert.That(ours.Error, Does.Contain("missing.qcow2"));
    }

    [TestCase("s1", "s2")]
    [TestCase("s2", "active")]
    [TestCase("s1", "active")]
    [TestCase("backing", "active")]
    [TestCase("backing", "s2")]
    public void Diff_lists_exactly_the_sectors_that_differ_between_the_two_views(string from, string to)
    {
        byte[] Raw(string view)
        {
            string raw = _dir.Combine($"view-{view}.raw");
            string[] args = view switch
            {
                "active" => ["convert", "-O", "raw", "top.qcow2", raw],
                "backing" => ["convert", "-O", "raw", "base.qcow2", raw],
                _ => ["convert", "-l", view, "-O", "raw", "top.qcow2", raw],
            };
            Qemu.ImgIn(_dir.Path, args);
            byte[] bytes = File.ReadAllBytes(raw);
            File.Delete(raw);
            return bytes;
        }

        byte[] a = Raw(from), b = Raw(to);
        var expected = new List<(long Start, long Length)>();
        for (int sector = 0; sector < a.Length / 512; sector++)
        {
            if (!a.AsSpan(sector * 512, 512).SequenceEqual(b.AsSpan(sector * 512, 512)))
            {
                long start = sector * 512L;
                if (expected.Count > 0 && expected[^1].Start + expected[^1].Length == start)
                {
                    expected[^1] = (expected[^1].Start, expected[^1].Length + 512);
                }
                else
                {
                    expected.Add((start, 512));
                }
            }
        }

        var ours = CliRunner.RunIn(_dir.Path, "diff", "top.qcow2", "--from", from, "--to", to, "--json").Succeeded();
        using var json = JsonDocument.Parse(ours.Output);
        var ranges = json.RootElement.GetProperty("ranges").EnumerateArray()
            .Select(r => (r.GetProperty("start").GetInt64(), r.GetProperty("length").GetInt64())).ToList();
        Assert.That(expected, Is.Not.Empty, "the test images must differ between these views");
        Assert.That(ranges, Is.EqualTo(expected));
        Assert.That(json.RootElement.GetProperty("identical").GetBoolean(), Is.False);

        var text = CliRunner.RunIn(_dir.Path, "diff", "top.qcow2", "--from", from, "--to", to).Succeeded();
        Assert.That(text.Output, Does.Contain($"{expected.Count} {(expected.Count == 1 ? "range" : "ranges")}, {expected.Sum(r => r.Length)} bytes differ"));
    }

    [Test]
    public void Diff_of_a_view_with_itself_is_identical_and_a_missing_snapshot_is_an_error()
    {
        var same = CliRunner.RunIn(_dir.Path, "diff", "top.qcow2", "--from", "s2", "--to", "s2").Succeeded();
        Assert.That(same.Output, Does.Contain("identical"));
        var missing = CliRunner.RunIn(_dir.Path, "diff", "top.qcow2", "--from", "nope");
        Assert.That(missing.ExitCode, Is.EqualTo(11), missing.Error);
    }
}
