using System.Text.Json;
using System.Text.Json.Nodes;

namespace Qcow2Mount.Windows.Tests;

/// <summary>
/// The image commands of the Windows build, given Windows paths (a drive letter of its own, backslashes, spaces),
/// answer exactly as the Linux build does on the same images: same exit codes, same output once the paths are
/// written the other way, same bytes written.
/// </summary>
[TestFixture]
internal sealed class WindowsImageCommandTests
{
    private WindowsBuild _windows = null!;

    [SetUp]
    public void SetUp() => _windows = WindowsBuild.Require();

    /// <summary>One view per image (the active layer), from the QEMU-made corpus.</summary>
    private static IReadOnlyList<CorpusEntry> Images() =>
        [.. Corpus.LoadEntries().Where(e => e.Snapshot is null).GroupBy(e => e.ImagePath).Select(g => g.First())];

    /// <summary>Small images that cover the formats: plain, compressed (deflate and zstd), with snapshots, with a backing file.</summary>
    private static List<CorpusEntry> Sample()
    {
        var images = Images().Where(e => e.VirtualSize <= 64 << 20).ToList();
        string[] wanted = ["compress", "zstd", "snap", "backing", "overlay", "ext", "v2"];
        var sample = wanted.Select(w => images.FirstOrDefault(e => e.Name.Contains(w, StringComparison.OrdinalIgnoreCase)))
            .OfType<CorpusEntry>().Append(images[0]).DistinctBy(e => e.ImagePath).ToList();
        return sample;
    }

    [Test]
    public void Info_json_matches_the_Linux_build_on_every_corpus_image_through_a_drive_letter()
    {
        var images = Images();
        string corpus = CommonFolder(images);
        using var drive = _windows.MapDrive(corpus);
        // A few at a time: each run is a process start (under Wine about a second), and they do not share anything.
        using var slots = new SemaphoreSlim(3);
        var runs = images.Select(async image =>
        {
            await slots.WaitAsync();
            try
            {
                string windowsPath = drive.Windows(Path.GetRelativePath(corpus, image.ImagePath));
                var windows = await _windows.RunAsync(["info", "--json", windowsPath]);
                var linux = await Task.Run(() => LinuxBuild.Run("info", "--json", image.ImagePath));
                return (image, windowsPath, windows, linux);
            }
            finally
            {
                slots.Release();
            }
        }).ToList();
        var results = Task.WhenAll(runs).GetAwaiter().GetResult();
        Assert.That(results, Has.Length.GreaterThan(10), "the corpus has its images");
        Assert.Multiple(() =>
        {
            foreach (var (image, windowsPath, windows, linux) in results)
            {
                Assert.That(windowsPath, Does.StartWith(drive.Root).And.Not.Contain('/'));
                Assert.That(windows.ExitCode, Is.EqualTo(linux.ExitCode), WindowsBuild.Describe(windows));
                if (linux.ExitCode == 0 && windows.ExitCode == 0)
                {
                    Assert.That(Normalized(windows.StandardOutput, drive.Root, corpus), Is.EqualTo(Normalized(linux.StandardOutput, null, null)),
                        $"{image.Name}: {windowsPath}");
                }
            }
        });
    }

    [Test]
    public void Info_text_hash_and_check_match_the_Linux_build_with_spaces_and_backslashes()
    {
        using var dir = new TempDir("windows-paths");
        foreach (var image in Sample())
        {
            // A folder and a name with spaces; backing and data files travel with the image (same folder in the corpus).
            string folder = dir.Combine("My Images", image.Name);
            CopyImageFolder(image, folder);
            string linuxPath = Path.Combine(folder, Path.GetFileName(image.ImagePath));
            string windowsPath = _windows.WindowsPath(linuxPath);
            Assert.That(windowsPath, Does.Contain(@"\My Images\"));

            foreach (string[] command in new[] { new[] { "hash" }, ["hash", "-a", "md5,sha1"], ["check"], ["info"] })
            {
                var windows = _windows.Run([.. command, windowsPath]);
                var linux = LinuxBuild.Run([.. command, linuxPath]);
                Assert.That(windows.ExitCode, Is.EqualTo(linux.ExitCode), WindowsBuild.Describe(windows));
                Assert.That(WithoutDiskSize(windows.StandardOutput.ReplaceLineEndings("\n").Replace(windowsPath, linuxPath, StringComparison.Ordinal)
                        .Replace(_windows.WindowsPath(folder) + Path.DirectorySeparatorChar, folder + Path.DirectorySeparatorChar, StringComparison.Ordinal)
                        .Replace(_windows.WindowsPath(folder) + '\\', folder + Path.DirectorySeparatorChar, StringComparison.Ordinal)),
                    Is.EqualTo(WithoutDiskSize(linux.StandardOutput)), $"{string.Join(' ', command)} {image.Name}");
            }
        }
    }

    [Test]
    public void Convert_writes_the_same_bytes_as_the_Linux_build()
    {
        using var dir = new TempDir("windows-convert");
        foreach (var image in Sample())
        {
            string folder = dir.Combine("source images", image.Name);
            CopyImageFolder(image, folder);
            string source = Path.Combine(folder, Path.GetFileName(image.ImagePath));
            Directory.CreateDirectory(dir.Combine("windows out"));
            Directory.CreateDirectory(dir.Combine("linux out"));
            foreach (var (name, options) in new[] { ("raw copy.img", new[] { "-O", "raw" }), ("qcow2 copy.qcow2", ["-O", "qcow2"]) })
            {
                string fromWindows = dir.Combine("windows out", image.Name + " " + name);
                string fromLinux = dir.Combine("linux out", image.Name + " " + name);
                _windows.Run(["convert", .. options, _windows.WindowsPath(source), _windows.WindowsPath(fromWindows)]).EnsureSuccess();
                LinuxBuild.Run(["convert", .. options, source, fromLinux]).EnsureSuccess();
                Assert.That(FilesEqual(fromWindows, fromLinux), Is.True, $"convert {string.Join(' ', options)} of {image.Name}");
                File.Delete(fromLinux);
            }

            // Compressed clusters may differ byte for byte (the compressors pick SIMD paths by CPU and runtime), so a
            // compressed copy is held to what it holds: QEMU reads it as the source, and finds it consistent.
            foreach (string compression in new[] { "zlib", "zstd" })
            {
                string compressed = dir.Combine("windows out", $"{image.Name} {compression} copy.qcow2");
                _windows.Run("convert", "-O", "qcow2", "-c", "-o", $"compression_type={compression}", _windows.WindowsPath(source), _windows.WindowsPath(compressed))
                    .EnsureSuccess();
                if (ExternalTool.Find("qemu-img") is not null)
                {
                    ExternalTool.Run("qemu-img", ["check", compressed]).EnsureSuccess();
                    ExternalTool.Run("qemu-img", ["compare", "-f", "raw", "-F", "qcow2", image.ExpectedRawPath, compressed]).EnsureSuccess();
                }

                File.Delete(compressed);
            }

            Assert.That(FilesEqual(dir.Combine("windows out", image.Name + " raw copy.img"), image.ExpectedRawPath), Is.True,
                $"{image.Name}: the raw copy is what QEMU reads");
            File.Delete(dir.Combine("windows out", image.Name + " raw copy.img"));
            File.Delete(dir.Combine("windows out", image.Name + " qcow2 copy.qcow2"));
        }
    }

    [Test]
    public void Create_snapshot_and_resize_give_what_the_Linux_build_gives()
    {
        ExternalTool.RequireTool("qemu-img");
        using var dir = new TempDir("windows-create");
        using var drive = _windows.MapDrive(dir.Path);
        Directory.CreateDirectory(dir.Combine("new disks"));
        string windowsImage = dir.Combine("new disks", "from windows.qcow2");
        string linuxImage = dir.Combine("new disks", "from linux.qcow2");
        string windowsPath = drive.Windows(@"new disks\from windows.qcow2");

        _windows.Run("create", windowsPath, "64M").EnsureSuccess();
        LinuxBuild.Run("create", linuxImage, "64M").EnsureSuccess();
        Assert.That(FilesEqual(windowsImage, linuxImage), Is.True, "create writes the same image");

        // qemu-io writes the same data into both, so the snapshot keeps something to compare.
        foreach (string image in new[] { windowsImage, linuxImage })
        {
            ExternalTool.Run("qemu-io", ["-c", "write -P 0x6b 1M 2M", image]).EnsureSuccess();
        }

        _windows.Run("snapshot", "create", windowsPath, "before resize").EnsureSuccess();
        LinuxBuild.Run("snapshot", "create", linuxImage, "before resize").EnsureSuccess();
        _windows.Run("resize", windowsPath, "+64M").EnsureSuccess();
        LinuxBuild.Run("resize", linuxImage, "+64M").EnsureSuccess();

        ExternalTool.Run("qemu-img", ["check", windowsImage]).EnsureSuccess();
        using (var info = JsonDocument.Parse(ExternalTool.Run("qemu-img", ["info", "--output=json", windowsImage]).EnsureSuccess().StandardOutput))
        {
            Assert.That(info.RootElement.GetProperty("virtual-size").GetInt64(), Is.EqualTo(128L << 20));
            Assert.That(info.RootElement.GetProperty("snapshots")[0].GetProperty("name").GetString(), Is.EqualTo("before resize"));
        }

        // Same contents, active layer and snapshot; the file differs only in the snapshot's timestamp.
        foreach (string[] view in new[] { Array.Empty<string>(), ["-l", "snapshot.name=before resize"] })
        {
            string fromWindows = dir.Combine("windows.raw");
            string fromLinux = dir.Combine("linux.raw");
            ExternalTool.Run("qemu-img", ["convert", .. view, "-O", "raw", windowsImage, fromWindows]).EnsureSuccess();
            ExternalTool.Run("qemu-img", ["convert", .. view, "-O", "raw", linuxImage, fromLinux]).EnsureSuccess();
            Assert.That(FilesEqual(fromWindows, fromLinux), Is.True, $"view {string.Join(' ', view)}");
        }

        Assert.That(new FileInfo(windowsImage).Length, Is.EqualTo(new FileInfo(linuxImage).Length));
        var list = _windows.Run("snapshot", "list", windowsPath).EnsureSuccess();
        Assert.That(list.StandardOutput, Does.Contain("before resize"));
    }

    [Test]
    public void A_bad_image_gets_one_line_and_the_same_exit_code()
    {
        using var dir = new TempDir("windows-bad");
        string truncated = dir.Combine("cut short.qcow2");
        File.WriteAllBytes(truncated, [(byte)'Q', (byte)'F', (byte)'I', 0xfb, 0, 0, 0, 3, 1, 2]);
        var windows = _windows.Run("info", _windows.WindowsPath(truncated));
        var linux = LinuxBuild.Run("info", truncated);
        Assert.That(windows.ExitCode, Is.EqualTo(3).And.EqualTo(linux.ExitCode), WindowsBuild.Describe(windows));
        Assert.That(windows.StandardError.Trim().Split('\n'), Has.Length.EqualTo(1), WindowsBuild.Describe(windows));
        Assert.That(windows.StandardError, Does.Contain("not a qcow2 image").And.Contain(@"\cut short.qcow2"));

        var missing = _windows.Run("info", @"Z:\no\such folder\disk.qcow2");
        Assert.That(missing.ExitCode, Is.EqualTo(7), WindowsBuild.Describe(missing));
    }

    /// <summary>
    /// JSON with every path written the Linux way: <paramref name="windowsRoot"/> (<c>Q:\</c>) becomes
    /// <paramref name="linuxRoot"/>. "actual-size" (the host file's allocated bytes) is left out: Windows reports
    /// it through GetCompressedFileSize, which Wine answers with the file's length, not its allocated blocks.
    /// </summary>
    private static string Normalized(string json, string? windowsRoot, string? linuxRoot)
    {
        var node = JsonNode.Parse(json);
        if (node is JsonObject top)
        {
            top.Remove("actual-size");
        }

        string Map(string value) => windowsRoot is not null && value.StartsWith(windowsRoot, StringComparison.OrdinalIgnoreCase)
            ? Path.Join(linuxRoot, value[windowsRoot.Length..].Replace('\\', '/'))
            : value;

        void Walk(JsonNode? n)
        {
            switch (n)
            {
                case JsonObject o:
                    foreach (var (key, value) in o.ToList())
                    {
                        if (value is JsonValue v && v.TryGetValue(out string? text))
                        {
                            o[key] = Map(text);
                        }
                        else
                        {
                            Walk(value);
                        }
                    }

                    break;
                case JsonArray a:
                    for (int i = 0; i < a.Count; i++)
                    {
                        if (a[i] is JsonValue v && v.TryGetValue(out string? text))
                        {
                            a[i] = Map(text);
                        }
                        else
                        {
                            Walk(a[i]);
                        }
                    }

                    break;
            }
        }

        Walk(node);
        return node?.ToJsonString() ?? "null";
    }

    /// <summary>Text without info's "disk size:" line, which Wine cannot know (see <see cref="Normalized"/>).</summary>
    private static string WithoutDiskSize(string text) =>
        string.Join('\n', text.Split('\n').Where(line => !line.StartsWith("disk size:", StringComparison.Ordinal)));

    private static string CommonFolder(IReadOnlyList<CorpusEntry> images)
    {
        string folder = Path.GetDirectoryName(images[0].ImagePath)!;
        while (!images.All(i => i.ImagePath.StartsWith(folder + Path.DirectorySeparatorChar, StringComparison.Ordinal)))
        {
            folder = Path.GetDirectoryName(folder)!;
        }

        return folder;
    }

    /// <summary>
    /// Copies the image and the files beside it that it names (backing file, external data file: their names are in
    /// its first clusters), then the files those name, so relative references resolve in the copy as in the corpus.
    /// </summary>
    private static void CopyImageFolder(CorpusEntry image, string destination)
    {
        Directory.CreateDirectory(destination);
        string source = Path.GetDirectoryName(image.ImagePath)!;
        var pending = new Queue<string>([image.ImagePath]);
        var copied = new HashSet<string>();
        while (pending.TryDequeue(out string? file))
        {
            if (!copied.Add(file))
            {
                continue;
            }

            File.Copy(file, Path.Combine(destination, Path.GetFileName(file)));
            byte[] head = new byte[64 << 10];
            using (var stream = File.OpenRead(file))
            {
                head = head[..stream.ReadAtLeast(head, head.Length, throwOnEndOfStream: false)];
            }

            string text = System.Text.Encoding.Latin1.GetString(head);
            foreach (string other in Directory.EnumerateFiles(source).Where(f => !copied.Contains(f) && text.Contains(Path.GetFileName(f), StringComparison.Ordinal)))
            {
                pending.Enqueue(other);
            }
        }
    }

    private static bool FilesEqual(string a, string b)
    {
        using var first = File.OpenRead(a);
        using var second = File.OpenRead(b);
        if (first.Length != second.Length)
        {
            return false;
        }

        byte[] x = new byte[1 << 20];
        byte[] y = new byte[1 << 20];
        while (true)
        {
            int n = first.ReadAtLeast(x, x.Length, throwOnEndOfStream: false);
            int m = second.ReadAtLeast(y, y.Length, throwOnEndOfStream: false);
            if (n != m || !x.AsSpan(0, n).SequenceEqual(y.AsSpan(0, m)))
            {
                return false;
            }

            if (n == 0)
            {
                return true;
            }
        }
    }
}
