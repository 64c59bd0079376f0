using NUnit.Framework;
using Qcow2Mount.Qcow2.Format;

namespace Qcow2Mount.Qcow2.Tests.Format;

[TestFixture]
internal class L2EntryTests
{
    private const ulong Copied = 1UL << 63;

    [TestCase(0UL, false, ClusterKind.Unallocated)]
    [TestCase(Copied | 0x50000, false, ClusterKind.Normal)]
    [TestCase(0x50000UL, false, ClusterKind.Normal)]              // refcount > 1 (snapshot): COPIED clear, still data
    [TestCase(Copied | 0x50000 | 1, false, ClusterKind.Zero)]    // v3 zero flag with preallocation
    [TestCase(1UL, false, ClusterKind.Zero)]                      // zero flag without allocation
    [TestCase((1UL << 62) | 0x12345, false, ClusterKind.Compressed)]
    [TestCase(Copied, false, ClusterKind.Unallocated)]
    [TestCase(Copied, true, ClusterKind.Normal)]                  // data file: host offset 0 is valid
    public void Classifies_standard_entries(ulong entry, bool dataFile, ClusterKind kind) =>
        Assert.That(L2Entry.Classify(entry, dataFile), Is.EqualTo(kind));

    [TestCase(Copied | 0x50000, 0x1UL, 0, ClusterKind.Normal)]
    [TestCase(Copied | 0x50000, 0x1UL, 1, ClusterKind.Unallocated)]
    [TestCase(Copied | 0x50000, 1UL << 33, 1, ClusterKind.Zero)]
    [TestCase(Copied | 0x50000, (1UL << 31) | (1UL << 63), 31, ClusterKind.Invalid)] // allocated and zero at once
    [TestCase(0UL, 0x4UL, 2, ClusterKind.Invalid)]                                   // allocated without a cluster
    [TestCase(0UL, 1UL << 34, 2, ClusterKind.Zero)]
    [TestCase(0UL, 0UL, 5, ClusterKind.Unallocated)]
    [TestCase(1UL, 0UL, 5, ClusterKind.Unallocated)]                                 // bit 0 is not a zero flag here
    [TestCase((1UL << 62) | 0x777, 0UL, 9, ClusterKind.Compressed)]
    public void Classifies_subclusters_of_extended_entries(ulong entry, ulong bitmap, int index, ClusterKind kind) =>
        Assert.That(L2Entry.ClassifySubcluster(entry, bitmap, index, hasDataFile: false), Is.EqualTo(kind));

    [Test]
    public void Accessors_pick_their_bits()
    {
        ulong entry = Copied | 0x00AB_CDEF_0012_3400UL | 1;
        Assert.Multiple(() =>
        {
            Assert.That(L2Entry.HostOffset(entry), Is.EqualTo(0x00AB_CDEF_0012_3400UL));
            Assert.That(L2Entry.IsCopied(entry), Is.True);
            Assert.That(L2Entry.IsZero(entry), Is.True);
            Assert.That(L2Entry.IsCompressed(entry), Is.False);
            Assert.That(L1Entry.L2Offset(Copied | 0x7F00_0000_0003_0000UL), Is.EqualTo(0x30000UL), "reserved bits 56..62 are not offset");
        });
    }
}
