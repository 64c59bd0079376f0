using System.Text.Json;
using NUnit.Framework;
using Qcow2Mount.TestSupport;
using Qcow2Mount.Qcow2.Create;
using Qcow2Mount.Qcow2.Format;

namespace Qcow2Mount.Qcow2.Tests.Create;

[TestFixture]
internal class ImageCreatorTests
{
    internal sealed record Case(string Name, CreateOptions Options, string QemuOptions)
    {
        public override string ToString() => Name;
    }

    private const long Size = 8L << 20;

    private static IEnumerable<Case> Cases()
    {
        var b = new CreateOptions { Size = Size };
        yield return new("default v3", b, "");
        yield return new("compat 0.10", b with { Compat = "0.10" }, "compat=0.10");
        foreach (int cs in new[] { 512, 1024, 4096, 8192, 65536, 2 << 20 })
        {
            yield return new($"cluster {cs}", b with { ClusterSize = cs }, $"cluster_size={cs}");
        }

        yield return new("v2 cluster 512", b with { Compat = "0.10", ClusterSize = 512 }, "compat=0.10,cluster_size=512");
        foreach (int bits in new[] { 1, 2, 4, 8, 32, 64 })
        {
            yield return new($"refcount {bits}", b with { RefcountBits = bits }, $"refcount_bits={bits}");
        }

        yield return new("refcount 1, 512-byte clusters", b with { RefcountBits = 1, ClusterSize = 512 }, "refcount_bits=1,cluster_size=512");
        yield return new("lazy refcounts", b with { LazyRefcounts = true }, "lazy_refcounts=on");
        yield return new("extended L2", b with { ExtendedL2 = true }, "extended_l2=on");
        yield return new("extended L2 16K", b with { ExtendedL2 = true, ClusterSize = 16384 }, "extended_l2=on,cluster_size=16384");
        yield return new("zstd", b with { CompressionType = CompressionType.Zstd }, "compression_type=zstd");
        yield return new("all v3 features", b with { LazyRefcounts = true, ExtendedL2 = true, CompressionType = CompressionType.Zstd, RefcountBits = 64 },
            "lazy_refcounts=on,extended_l2=on,compression_type=zstd,refcount_bits=64");
        yield return new("odd size", b with { Size = 3 * 65536 + 1000 }, "");
        yield return new("empty", b with { Size = 0 }, "");
        yield return new("data file", b with { DataFile = "DATA" }, "data_file=DATA");
        yield return new("raw data file", b with { DataFile = "DATA", DataFileRaw = true }, "data_file=DATA,data_file_raw=on");
        yield return new("raw data file, extended L2, odd size", b with { DataFile = "DATA", DataFileRaw = true, ExtendedL2 = true, Size = 3 * 65536 + 5000 },
            "data_file=DATA,data_file_raw=on,extended_l2=on");
        yield return new("backing with format", b with { Size = null, BackingFile = "BASE", BackingFormat = "qcow2" }, "BACKING:qcow2");
        yield return new("backing without format", b with { Size = null, BackingFile = "BASE" }, "BACKING");
        yield return new("backing, 512-byte clusters", b with { Size = null, BackingFile = "BASE", BackingFormat = "qcow2", ClusterSize = 512 },
            "cluster_size=512,BACKING:qcow2");
        yield return new("v2 backing", b with { Size = null, Compat = "0.10", BackingFile = "BASE", BackingFormat = "qcow2" }, "compat=0.10,BACKING:qcow2");
        yield return new("backing and data file", b with { Size = null, BackingFile = "BASE", BackingFormat = "qcow2", DataFile = "DATA" },
            "data_file=DATA,BACKING:qcow2");
    }

    [TestCaseSource(nameof(Cases))]
    public void Created_image_is_clean_reads_like_qemus_and_takes_writes(Case c)
    {
        using var dir = new TempDir("engine");
        string ours = dir.Combine("ours.qcow2"), theirs = dir.Combine("theirs.qcow2");
        string baseImage = dir.Combine("base.qcow2");
        QemuTools.Ok(QemuTools.QemuImg, "create", "-f", "qcow2", baseImage, "6M");
        QemuTools.QemuIoWrite(baseImage, "write -P 0x11 0 6M");

        var options = c.Options;
        if (options.DataFile is not null)
        {
            options = options with { DataFile = "ours.data" };
        }

        if (options.BackingFile is not null)
        {
            options = options with { BackingFile = "base.qcow2" };
        }

        ImageCreator.Create(ours, options);
        CreateWithQemu(theirs, c, dir);

        var check = QemuTools.Check(ours);
        Assert.That((check.ExitCode, check.Corruptions, check.Leaks, check.CheckErrors), Is.EqualTo((0, 0, 0, 0)), check.Stderr);

        var ourInfo = QemuTools.Info(ours);
        var theirInfo = QemuTools.Info(theirs);
        Assert.That(ourInfo.GetProperty("virtual-size").GetInt64(), Is.EqualTo(theirInfo.GetProperty("virtual-size").GetInt64()));
        Assert.That(ourInfo.GetProperty("cluster-size").GetInt32(), Is.EqualTo(options.ClusterSize));
        Assert.That(Specific(ourInfo), Is.EqualTo(Specific(theirInfo).Replace("theirs.data", "ours.data", StringComparison.Ordinal)));
        Assert.That(Optional(ourInfo, "backing-filename"), Is.EqualTo(Optional(theirInfo, "backing-filename")));
        Assert.That(Optional(ourInfo, "backing-filename-format"),
            Is.EqualTo(options.BackingFormat is null ? null : Optional(theirInfo, "backing-filename-format")));
        if (options.DataFile is not null)
        {
            Assert.That(new FileInfo(dir.Combine("ours.data")).Length, Is.EqualTo(new FileInfo(dir.Combine("theirs.data")).Length), "data file size");
        }

        long virtualSize = ourInfo.GetProperty("virtual-size").GetInt64();
        if (virtualSize < 3 * 65536)
        {
            return;
        }

        QemuTools.QemuIoWrite(ours, "write -P 0xab 0 64k", $"write -P 0xcd {virtualSize - 65536} 4096", "write -z 65536 4096");
        check = QemuTools.Check(ours);
        Assert.That((check.ExitCode, check.Corruptions, check.Leaks), Is.EqualTo((0, 0, 0)), check.Stderr);

        using var image = Qcow2Image.Open(ours);
        var buffer = new byte[65536];
        image.ReadAt(0, buffer);
        Assert.That(buffer.All(x => x == 0xab), Is.True, "first cluster");
        image.ReadAt(virtualSize - 65536, buffer);
        Assert.That(buffer.AsSpan(0, 4096).ToArray().All(x => x == 0xcd), Is.True, "written tail");
        byte expectedRest = options.BackingFile is null ? (byte)0 : (byte)0x11;
        Assert.That(buffer.AsSpan(4096, 4096).ToArray().All(x => x == expectedRest), Is.True, "unwritten part reads the backing file or zeros");
    }

    private static void CreateWithQemu(string path, Case c, TempDir dir)
    {
        var parts = c.QemuOptions.Split(',', StringSplitOptions.RemoveEmptyEntries).ToList();
        var args = new List<string> { "create", "-f", "qcow2" };
        foreach (string part in parts.Where(p => p.StartsWith("BACKING", StringComparison.Ordinal)))
        {
            args.AddRange(["-b", "base.qcow2"]);
            if (part.Contains(':', StringComparison.Ordinal))
            {
                args.AddRange(["-F", part.Split(':')[1]]);
            }
            else
            {
                args.AddRange(["-F", "qcow2"]); // qemu-img 7.2 refuses a backing file without a format
            }
        }

        var real = parts.Where(p => !p.StartsWith("BACKING", StringComparison.Ordinal)).Select(p => p.Replace("DATA", "theirs.data", StringComparison.Ordinal)).ToList();
        if (real.Count > 0)
        {
            args.AddRange(["-o", string.Join(',', real)]);
        }

        args.Add(path);
        if (c.Options.Size is { } size)
        {
            args.Add(size.ToString(System.Globalization.CultureInfo.InvariantCulture));
        }

        var (code, stdout, stderr) = QemuTools.RunIn(dir.Path, QemuTools.QemuImg, [.. args]);
        Assert.That(code, Is.Zero, $"qemu-img {string.Join(' ', args)}: {stderr}{stdout}");
    }

    private static string Specific(JsonElement info) => info.GetProperty("format-specific").GetProperty("data").GetRawText();

    private static string? Optional(JsonElement info, string name) => info.TryGetProperty(name, out var v) ? v.GetString() : null;

    [Test]
    public void Backing_without_a_size_takes_the_backing_files_size()
    {
        using var dir = new TempDir("engine");
        QemuTools.Ok(QemuTools.QemuImg, "create", "-f", "raw", dir.Combine("base.raw"), "3M");
        ImageCreator.Create(dir.Combine("top.qcow2"), new CreateOptions { BackingFile = "base.raw", BackingFormat = "raw" });
        using var image = Qcow2Image.Open(dir.Combine("top.qcow2"));
        Assert.That(image.Length, Is.EqualTo(3L << 20));
        Assert.That(image.BackingFile, Is.EqualTo("base.raw"));
        Assert.That(image.BackingFormat, Is.EqualTo("raw"));
    }

    [Test]
    public void Size_is_rounded_up_to_512_bytes()
    {
        using var dir = new TempDir("engine");
        ImageCreator.Create(dir.Combine("a.qcow2"), new CreateOptions { Size = 1001 });
        using var image = Qcow2Image.Open(dir.Combine("a.qcow2"));
        Assert.That(image.Length, Is.EqualTo(1024));
    }

    [Test]
    public void Feature_name_table_lists_qemus_names()
    {
        using var dir = new TempDir("engine");
        ImageCreator.Create(dir.Combine("a.qcow2"), new CreateOptions { Size = 1 << 20 });
        using var image = Qcow2Image.Open(dir.Combine("a.qcow2"));
        Assert.That(image.Extensions.FeatureNames.Select(f => f.Name), Is.EqualTo(new[]
        {
            "dirty bit", "corrupt bit", "external data file", "compression type", "extended L2 entries", "lazy refcounts", "bitmaps",
            "raw external data",
        }));
        Assert.That(image.Header.HeaderLength, Is.EqualTo(112));
    }

    [Test]
    public void Existing_file_is_refused_unless_overwrite_is_set()
    {
        using var dir = new TempDir("engine");
        string path = dir.Combine("a.qcow2");
        File.WriteAllText(path, "precious");
        var e = Assert.Throws<Qcow2Exception>(() => ImageCreator.Create(path, new CreateOptions { Size = 1 << 20 }));
        Assert.That(e!.Code, Is.EqualTo(Qcow2ErrorCode.InvalidArgument));
        Assert.That(File.ReadAllText(path), Is.EqualTo("precious"));
        ImageCreator.Create(path, new CreateOptions { Size = 1 << 20, Overwrite = true });
        Assert.That(Qcow2Mount.Qcow2.Check.ImageChecker.Check(path).IsClean, Is.True);
    }

    private static IEnumerable<TestCaseData> InvalidOptions()
    {
        var b = new CreateOptions { Size = 1 << 20 };
        yield return new TestCaseData(b with { Compat = "2.0" }, "compat").SetName("unknown compat");
        yield return new TestCaseData(b with { ClusterSize = 256 }, "cluster size").SetName("cluster too small");
        yield return new TestCaseData(b with { ClusterSize = 4 << 20 }, "cluster size").SetName("cluster too large");
        yield return new TestCaseData(b with { ClusterSize = 3000 }, "cluster size").SetName("cluster not a power of two");
        yield return new TestCaseData(b with { RefcountBits = 3 }, "refcount width").SetName("refcount bits not a power of two");
        yield return new TestCaseData(b with { RefcountBits = 128 }, "refcount width").SetName("refcount bits too wide");
        yield return new TestCaseData(b with { Compat = "0.10", RefcountBits = 8 }, "compat 1.1").SetName("v2 with 8-bit refcounts");
        yield return new TestCaseData(b with { Compat = "0.10", LazyRefcounts = true }, "compat 1.1").SetName("v2 with lazy refcounts");
        yield return new TestCaseData(b with { Compat = "0.10", CompressionType = CompressionType.Zstd }, "compat 1.1").SetName("v2 with zstd");
        yield return new TestCaseData(b with { Compat = "0.10", DataFile = "d" }, "compat 1.1").SetName("v2 with data file");
        yield return new TestCaseData(b with { ExtendedL2 = true, ClusterSize = 8192 }, "16384").SetName("extended L2 with small clusters");
        yield return new TestCaseData(b with { BackingFormat = "raw" }, "backing file").SetName("backing format without backing file");
        yield return new TestCaseData(b with { DataFileRaw = true }, "data file").SetName("raw without data file");
        yield return new TestCaseData(b with { DataFile = "d", DataFileRaw = true, BackingFile = "x" }, "cannot be used together").SetName("raw data file with backing");
        yield return new TestCaseData(new CreateOptions(), "size").SetName("no size, no backing");
        yield return new TestCaseData(b with { Size = -1 }, "negative").SetName("negative size");
        yield return new TestCaseData(b with { Size = 1L << 61, ClusterSize = 512 }, "L1").SetName("size too large for the L1 table");
        yield return new TestCaseData(b with { Preallocation = "full" }, "preallocation").SetName("preallocation");
        yield return new TestCaseData(b with { BackingFile = new string('x', 1024) }, "too long").SetName("backing name too long");
    }

    [TestCaseSource(nameof(InvalidOptions))]
    public void Invalid_options_are_refused_with_a_clear_message(CreateOptions options, string expected)
    {
        using var dir = new TempDir("engine");
        string path = dir.Combine("a.qcow2");
        var e = Assert.Throws<Qcow2Exception>(() => ImageCreator.Create(path, options));
        Assert.That(e!.Code, Is.EqualTo(Qcow2ErrorCode.InvalidArgument));
        Assert.That(e.Message, Does.Contain(expected));
        Assert.That(File.Exists(path), Is.False, "nothing is written for refused options");
    }
}
