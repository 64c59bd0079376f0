using NUnit.Framework;
using Qcow2Mount.Qcow2.Format;

namespace Qcow2Mount.Qcow2.Tests.Format;

[TestFixture]
internal class CompressedDescriptorTests
{
    /// <summary>x = 62 - (cluster_bits - 8) offset bits, then cluster_bits - 8 bits of additional sectors.</summary>
    [Test]
    public void Decodes_offset_and_size_for_every_cluster_size([Range(9, 21)] int clusterBits)
    {
        int x = 62 - (clusterBits - 8);
        long offset = (1L << Math.Min(x - 1, 40)) + 0x1234; // not sector aligned
        ulong maxSectors = (1UL << (clusterBits - 8)) - 1;
        ulong entry = (1UL << 62) | (maxSectors << x) | (ulong)offset;
        var d = CompressedDescriptor.Decode(entry, clusterBits);
        Assert.That(d.HostOffset, Is.EqualTo(offset));
        Assert.That(d.Size, Is.EqualTo((long)(maxSectors + 1) * 512 - (offset & 511)), "(n + 1) * 512 - (offset & 511)");
    }

    [Test]
    public void Decodes_a_descriptor_qemu_wrote()
    {
        // 64 KiB clusters: x = 54. Host 0x50200 + 0x1d0, one additional sector: the data ends at the next sector end.
        ulong entry = 0x4000_0000_0000_0000UL | (1UL << 54) | 0x503D0;
        var d = CompressedDescriptor.Decode(entry, 16);
        Assert.That(d, Is.EqualTo(new CompressedDescriptor(0x503D0, 1024 - 0x1D0)));
    }

    [Test]
    public void Encode_round_trips([Range(9, 21, 3)] int clusterBits, [Values(0, 1, 511, 512, 4000)] int misalignment, [Values(1, 511, 512, 513, 3000)] int size)
    {
        int clusterSize = 1 << clusterBits;
        if (size > clusterSize)
        {
            size = clusterSize; // a compressed cluster is never larger than the cluster
        }

        long host = (7L << 20) + misalignment;
        var encoded = new CompressedDescriptor(host, size).Encode(clusterBits);
        var decoded = CompressedDescriptor.Decode(encoded, clusterBits);
        Assert.That(decoded.HostOffset, Is.EqualTo(host));
        Assert.That(decoded.HostOffset + decoded.Size, Is.EqualTo(((host + size + 511) / 512) * 512), "ends at the sector end after the data");
        Assert.That(L2Entry.IsCompressed(encoded), Is.True);
    }
}
