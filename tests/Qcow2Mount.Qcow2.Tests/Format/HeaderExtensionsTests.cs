using System.Buffers.Binary;
using System.Text;
using NUnit.Framework;
using Qcow2Mount.Qcow2.Format;

namespace Qcow2Mount.Qcow2.Tests.Format;

[TestFixture]
internal class HeaderExtensionsTests
{
    /// <summary>Appends one extension {type, length, data padded to 8} at <paramref name="at"/>; returns the next offset.</summary>
    private static int Put(byte[] area, int at, uint type, byte[] data)
    {
        BinaryPrimitives.WriteUInt32BigEndian(area.AsSpan(at), type);
        BinaryPrimitives.WriteUInt32BigEndian(area.AsSpan(at + 4), (uint)data.Length);
        data.CopyTo(area, at + 8);
        return at + 8 + ((data.Length + 7) & ~7);
    }

    private static byte[] FeatureEntry(FeatureKind kind, int bit, string name)
    {
        var entry = new byte[48]; // type u8, bit u8, name[46] NUL-padded
        entry[0] = (byte)kind;
        entry[1] = (byte)bit;
        Encoding.ASCII.GetBytes(name).CopyTo(entry, 2);
        return entry;
    }

    [Test]
    public void Parses_known_extensions_and_keeps_unknown_ones_verbatim()
    {
        var cluster0 = new byte[4096];
        int at = 112;
        at = Put(cluster0, at, 0xE2792ACA, Encoding.ASCII.GetBytes("qcow2"));          // backing format, padded 5 -> 8
        at = Put(cluster0, at, 0x12345678, [1, 2, 3]);                                   // unknown: must survive
        at = Put(cluster0, at, 0x44415441, Encoding.ASCII.GetBytes("disk.data"));       // external data file
        at = Put(cluster0, at, 0x6803F857, [
            .. FeatureEntry(FeatureKind.Incompatible, 0, "dirty bit"),
            .. FeatureEntry(FeatureKind.Incompatible, 10, "hostile feature 10"),
            .. FeatureEntry(FeatureKind.Compatible, 0, "lazy refcounts")]);
        var x = HeaderExtensions.Parse(cluster0, 112, cluster0.Length); // the zeros after it are the end marker

        Assert.Multiple(() =>
        {
            Assert.That(x.BackingFormat, Is.EqualTo("qcow2"));
            Assert.That(x.ExternalDataFile, Is.EqualTo("disk.data"));
            Assert.That(x.All.Select(e => e.Type), Is.EqualTo(new uint[] { 0xE2792ACA, 0x12345678, 0x44415441, 0x6803F857 }));
            Assert.That(x.All[1].Data.ToArray(), Is.EqualTo(new byte[] { 1, 2, 3 }), "unknown extension data, unpadded");
            Assert.That(x.FeatureNames, Has.Count.EqualTo(3));
            Assert.That(x.FeatureNames[1], Is.EqualTo(new FeatureName(FeatureKind.Incompatible, 10, "hostile feature 10")));
            Assert.That(x.DescribeIncompatible((1UL << 10) | (1UL << 11)),
                Is.EqualTo("hostile feature 10, Unknown incompatible feature: 800"));
        });
    }

    [Test]
    public void Extension_longer_than_the_area_is_refused()
    {
        var cluster0 = new byte[512];
        BinaryPrimitives.WriteUInt32BigEndian(cluster0.AsSpan(112), 0x12345678);
        BinaryPrimitives.WriteUInt32BigEndian(cluster0.AsSpan(116), 512);
        var e = Assert.Throws<Qcow2Exception>(() => HeaderExtensions.Parse(cluster0, 112, cluster0.Length))!;
        Assert.That(e.Code, Is.EqualTo(Qcow2ErrorCode.InvalidHeader));
    }

    [Test]
    public void The_same_extension_twice_is_refused()
    {
        var cluster0 = new byte[512];
        int at = Put(cluster0, 112, 0xE2792ACA, Encoding.ASCII.GetBytes("raw"));
        Put(cluster0, at, 0xE2792ACA, Encoding.ASCII.GetBytes("qcow2"));
        Assert.That(Assert.Throws<Qcow2Exception>(() => HeaderExtensions.Parse(cluster0, 112, cluster0.Length))!.Code,
            Is.EqualTo(Qcow2ErrorCode.InvalidHeader));
    }

    [Test]
    public void Area_ending_without_an_end_marker_ends_the_list()
    {
        var cluster0 = new byte[128];
        int at = Put(cluster0, 112, 0xE2792ACA, Encoding.ASCII.GetBytes("raw")); // fills 112..128 exactly
        Assert.That(at, Is.EqualTo(128));
        Assert.That(HeaderExtensions.Parse(cluster0, 112, cluster0.Length).BackingFormat, Is.EqualTo("raw"));
    }
}
