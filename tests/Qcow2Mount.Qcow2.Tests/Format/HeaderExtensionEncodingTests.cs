using NUnit.Framework;
using Qcow2Mount.Qcow2.Format;

namespace Qcow2Mount.Qcow2.Tests.Format;

[TestFixture]
internal class HeaderExtensionEncodingTests
{
    [Test]
    public void Writes_type_length_and_data_padded_to_8()
    {
        var area = new byte[24];
        int written = new HeaderExtension((uint)HeaderExtensionType.BackingFormat, "qcow2"u8.ToArray()).WriteTo(area);
        byte[] expected =
        [
            0xE2, 0x79, 0x2A, 0xCA,                     // type: backing format
            0, 0, 0, 5,                                 // length: 5 bytes of data
            (byte)'q', (byte)'c', (byte)'o', (byte)'w', (byte)'2',
            0, 0, 0,                                    // padding to 8
            0, 0, 0, 0, 0, 0, 0, 0,                     // untouched: the end marker's place
        ];
        Assert.Multiple(() =>
        {
            Assert.That(written, Is.EqualTo(16));
            Assert.That(area, Is.EqualTo(expected));
            Assert.That(HeaderExtensions.Parse(area, 0, area.Length).BackingFormat, Is.EqualTo("qcow2"), "reads back");
        });
    }

    [Test]
    public void A_feature_name_entry_round_trips()
    {
        var entry = new byte[FeatureName.Size];
        entry.AsSpan().Fill(0xFF); // stale bytes must not survive into the name
        new FeatureName(FeatureKind.Autoclear, 1, "raw external data").WriteTo(entry);
        Assert.Multiple(() =>
        {
            Assert.That(FeatureName.Parse(entry), Is.EqualTo(new FeatureName(FeatureKind.Autoclear, 1, "raw external data")));
            Assert.That(entry[(2 + 17)..], Is.All.Zero, "the name is zero-padded to 46 bytes");
        });
    }
}
