using NUnit.Framework;
using Qcow2Mount.Qcow2.Format;
using Qcow2Mount.Qcow2.Mapping;

namespace Qcow2Mount.Qcow2.Tests.Mapping;

[TestFixture]
internal class GeometryTests
{
    private static Geometry For(int clusterBits, bool extended = false) => new(new Qcow2Header
    {
        Version = 3,
        ClusterBits = clusterBits,
        IncompatibleFeatures = extended ? IncompatibleFeatures.ExtendedL2 : IncompatibleFeatures.None,
    });

    [Test]
    public void Standard_64k_clusters_map_512_MiB_per_L2_table()
    {
        var g = For(16);
        Assert.Multiple(() =>
        {
            Assert.That((g.L2Entries, g.L2Words, g.SubclusterSize), Is.EqualTo((8192, 8192, 65536)));
            Assert.That(g.L2Span, Is.EqualTo(512L << 20));
            long guest = (3L << 29) + (5L << 16) + 123; // L1 index 3, L2 index 5, byte 123
            Assert.That((g.L1Index(guest), g.L2Index(guest), g.OffsetInCluster(guest)), Is.EqualTo((3L, 5, 123L)));
            Assert.That(g.L1EntriesFor((512UL << 20) + 1), Is.EqualTo(2));
            Assert.That(g.L1EntriesFor(0), Is.EqualTo(0));
        });
    }

    [Test]
    public void Extended_L2_halves_the_entries_and_adds_32_subclusters()
    {
        var g = For(16, extended: true);
        Assert.Multiple(() =>
        {
            Assert.That((g.L2Entries, g.L2Words, g.SubclusterSize), Is.EqualTo((4096, 8192, 2048)));
            Assert.That(g.L2Span, Is.EqualTo(256L << 20));
            Assert.That(g.SubclusterIndex((7L << 16) + (31 * 2048) + 5), Is.EqualTo(31));
        });
    }

    [TestCase(9, 64, 32L << 10)]
    [TestCase(12, 512, 2L << 20)]
    [TestCase(21, 262144, 512L << 30)]
    public void L2_span_follows_the_cluster_size(int clusterBits, int entries, long span)
    {
        var g = For(clusterBits);
        Assert.That((g.L2Entries, g.L2Span), Is.EqualTo((entries, span)));
    }
}
