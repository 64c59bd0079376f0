using NUnit.Framework;
using Qcow2Mount.Qcow2.Mapping;
using Qcow2Mount.TestSupport;

namespace Qcow2Mount.Qcow2.Tests.Mapping;

/// <summary><see cref="ImageCompare"/> against <c>qemu-img compare</c>: same verdict, same exit code, same first offset and lines.</summary>
[TestFixture]
[Parallelizable(ParallelScope.All)]
internal class ImageCompareTests
{
    private static (int ExitCode, string Output) Qemu(params string[] args)
    {
        var (code, stdout, _) = QemuTools.RunIn(Path.GetDirectoryName(args[^2]), QemuTools.QemuImg, ["compare", .. args]);
        return (code, stdout.Trim());
    }

    private static ImageCompareResult Ours(string a, string b, bool strict = false)
    {
        using var x = VirtualDisk.Open(a);
        using var y = VirtualDisk.Open(b);
        return ImageCompare.Compare(x, y, strict);
    }

    private static void AssertSameAsQemu(string a, string b, bool strict = false)
    {
        var (code, output) = strict ? Qemu("-s", a, b) : Qemu(a, b);
        var ours = Ours(a, b, strict);
        Assert.That((ours.ExitCode, string.Join('\n', ours.Messages)), Is.EqualTo((code, output)), $"{Path.GetFileName(a)} vs {Path.GetFileName(b)}");
    }

    [Test]
    public void Verdicts_and_offsets_match_qemu_img_compare()
    {
        using var dir = new TempDir("compare");
        string Image(string name, string size, params string[] writes)
        {
            string path = dir.Combine(name);
            QemuTools.Ok(QemuTools.QemuImg, "create", "-q", "-f", "qcow2", path, size);
            if (writes.Length > 0)
            {
                QemuTools.Ok(QemuTools.QemuIo, [.. writes.SelectMany(w => new[] { "-c", w }), path]);
            }

            return path;
        }

        string a = Image("a.qcow2", "4M", "write -P 1 0 64k", "write -P 2 1M 4k");
        string same = Image("same.qcow2", "4M", "write -P 2 1M 4k", "write -P 1 0 64k");
        string byteOff = Image("byte.qcow2", "4M", "write -P 1 0 64k", "write -P 2 1M 4k", "write -P 9 5000 1");
        string zeros = Image("zeros.qcow2", "4M", "write -P 1 0 64k", "write -P 2 1M 4k", "write -P 0 2M 64k");
        string extra = Image("extra.qcow2", "4M", "write -P 1 0 64k", "write -P 2 1M 4k", "write -P 3 3000000 1");
        string longerZero = Image("longer-zero.qcow2", "5M", "write -P 1 0 64k", "write -P 2 1M 4k");
        string longerData = Image("longer-data.qcow2", "5M", "write -P 1 0 64k", "write -P 2 1M 4k", "write -P 3 4300000 1");
        string raw = dir.Combine("a.raw");
        QemuTools.Ok(QemuTools.QemuImg, "convert", "-O", "raw", a, raw);

        Assert.Multiple(() =>
        {
            AssertSameAsQemu(a, same);
            AssertSameAsQemu(a, byteOff);
            AssertSameAsQemu(a, zeros);
            AssertSameAsQemu(zeros, a);
            AssertSameAsQemu(a, extra);
            AssertSameAsQemu(a, longerZero);
            AssertSameAsQemu(a, longerData);
            AssertSameAsQemu(a, longerZero, strict: true);
            AssertSameAsQemu(a, raw);
            AssertSameAsQemu(raw, byteOff);
        });
    }

    /// <summary>qemu-img compare compares active layers; snapshot views are covered by the diff tests.</summary>
    private static IEnumerable<TestCaseData> ActiveViews() => Corpus.Entries.Where(c => c.Arguments[0] is CorpusEntry { Snapshot: null });

    [TestCaseSource(nameof(ActiveViews))]
    public void Every_corpus_image_is_identical_to_its_raw_export(CorpusEntry e)
    {
        AssertSameAsQemu(e.ImagePath, e.ExpectedRawPath);
    }
}
