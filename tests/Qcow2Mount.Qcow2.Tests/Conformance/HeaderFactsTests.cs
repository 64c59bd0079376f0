using System.Text.Json;
using NUnit.Framework;
using Qcow2Mount.Qcow2.Format;
using Qcow2Mount.TestSupport;

namespace Qcow2Mount.Qcow2.Tests.Conformance;

/// <summary>What the engine reads from each corpus header must match what <c>qemu-img info</c> printed.</summary>
[TestFixture]
[Parallelizable(ParallelScope.All)]
internal class HeaderFactsTests
{
    /// <summary>One case per image (its active layer), as info JSON is per image.</summary>
    public static IEnumerable<TestCaseData> Images() =>
        Corpus.Entries.Where(c => c.Arguments[0] is CorpusEntry { Snapshot: null } || c.RunState == NUnit.Framework.Interfaces.RunState.Ignored);

    [TestCaseSource(nameof(Images))]
    public void Header_facts_match_qemu_img_info(CorpusEntry e)
    {
        using var json = JsonDocument.Parse(File.ReadAllText(e.InfoJsonPath));
        var info = json.RootElement;
        var data = info.GetProperty("format-specific").GetProperty("data");
        using var image = Qcow2Image.Open(e.ImagePath, new Qcow2OpenOptions { IgnoreBacking = true });
        var h = image.Header;
        Assert.Multiple(() =>
        {
            Assert.That(image.Length, Is.EqualTo(info.GetProperty("virtual-size").GetInt64()), "virtual-size");
            Assert.That(image.ClusterSize, Is.EqualTo(info.GetProperty("cluster-size").GetInt32()), "cluster-size");
            Assert.That(h.Version == 2 ? "0.10" : "1.1", Is.EqualTo(data.GetProperty("compat").GetString()), "compat");
            Assert.That(h.RefcountBits, Is.EqualTo(data.GetProperty("refcount-bits").GetInt32()), "refcount-bits");
            Assert.That(h.IsDirty, Is.EqualTo(info.GetProperty("dirty-flag").GetBoolean()), "dirty-flag");
            Assert.That(h.CompressionType == CompressionType.Zstd ? "zstd" : "zlib",
                Is.EqualTo(data.GetProperty("compression-type").GetString()), "compression-type");
            // v2 has none of the v3 fields; qemu-img omits them rather than printing false.
            Assert.That(h.HasLazyRefcounts, Is.EqualTo(Bool(data, "lazy-refcounts")), "lazy-refcounts");
            Assert.That(h.IsCorrupt, Is.EqualTo(Bool(data, "corrupt")), "corrupt");
            Assert.That(h.HasExtendedL2, Is.EqualTo(Bool(data, "extended-l2")), "extended-l2");
            Assert.That(h.HasRawExternalData, Is.EqualTo(Bool(data, "data-file-raw")), "data-file-raw");
            Assert.That(image.DataFile, Is.EqualTo(String(data, "data-file")), "data-file");
            Assert.That(image.BackingFile, Is.EqualTo(String(info, "backing-filename")), "backing-filename");
            Assert.That(image.BackingFormat, Is.EqualTo(String(info, "backing-filename-format")), "backing-filename-format");
            Assert.That(image.Extensions.HasBitmaps, Is.EqualTo(data.TryGetProperty("bitmaps", out _)), "bitmaps");
        });

        var expected = info.TryGetProperty("snapshots", out var list) ? list.EnumerateArray().ToList() : [];
        var actual = image.Snapshots;
        Assert.That(actual.Select(s => s.Name), Is.EqualTo(expected.Select(s => s.GetProperty("name").GetString())), "snapshot names");
        for (int i = 0; i < actual.Count; i++)
        {
            var s = actual[i];
            var x = expected[i];
            ulong vmClock = (x.GetProperty("vm-clock-sec").GetUInt64() * 1_000_000_000UL) + x.GetProperty("vm-clock-nsec").GetUInt64();
            Assert.Multiple(() =>
            {
                Assert.That(s.Id, Is.EqualTo(x.GetProperty("id").GetString()), $"snapshot {s.Name}: id");
                Assert.That(s.Date.ToUnixTimeSeconds(), Is.EqualTo(x.GetProperty("date-sec").GetInt64()), $"snapshot {s.Name}: date-sec");
                Assert.That(s.Date.Ticks % TimeSpan.TicksPerSecond, Is.EqualTo(x.GetProperty("date-nsec").GetInt64() / 100), $"snapshot {s.Name}: date-nsec");
                Assert.That(s.VmClockNanoseconds, Is.EqualTo(vmClock), $"snapshot {s.Name}: vm-clock");
                Assert.That(s.VmStateSize, Is.EqualTo(x.GetProperty("vm-state-size").GetUInt64()), $"snapshot {s.Name}: vm-state-size");
                // qemu-img omits icount when the entry does not record it; the engine reports -1 then.
                Assert.That(s.Icount, Is.EqualTo(x.TryGetProperty("icount", out var icount) ? icount.GetInt64() : -1), $"snapshot {s.Name}: icount");
                // qemu-img info does not print the snapshot's disk size; qemu-img convert of the view is that long.
                Assert.That((long?)s.DiskSize, Is.EqualTo(ExpectedView.Length(Corpus.Get(e.Name, s.Name))), $"snapshot {s.Name}: disk size");
            });
        }
    }

    private static bool Bool(JsonElement data, string name) => data.TryGetProperty(name, out var v) && v.GetBoolean();

    private static string? String(JsonElement data, string name) => data.TryGetProperty(name, out var v) ? v.GetString() : null;
}
