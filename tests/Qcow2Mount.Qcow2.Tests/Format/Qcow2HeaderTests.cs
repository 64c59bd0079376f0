using System.Buffers.Binary;
using NUnit.Framework;
using Qcow2Mount.Qcow2.Format;

namespace Qcow2Mount.Qcow2.Tests.Format;

[TestFixture]
internal class Qcow2HeaderTests
{
    /// <summary>A v3 header as qemu-img 7.2 writes it for `create -f qcow2 x 4M` (header_length 112).</summary>
    private static byte[] V3Header(uint headerLength = 112)
    {
        var b = new byte[65536];
        void U32(int at, uint v) => BinaryPrimitives.WriteUInt32BigEndian(b.AsSpan(at), v);
        void U64(int at, ulong v) => BinaryPrimitives.WriteUInt64BigEndian(b.AsSpan(at), v);
        U32(0, 0x514649FB);          // magic "QFI\xfb"
        U32(4, 3);                   // version
        U64(8, 0);                   // backing_file_offset: none
        U32(16, 0);                  // backing_file_size
        U32(20, 16);                 // cluster_bits: 64 KiB
        U64(24, 4 << 20);            // size: 4 MiB
        U32(32, 0);                  // crypt_method: none
        U32(36, 1);                  // l1_size: one L2 table maps 512 MiB
        U64(40, 0x30000);            // l1_table_offset: cluster 3
        U64(48, 0x10000);            // refcount_table_offset: cluster 1
        U32(56, 1);                  // refcount_table_clusters
        U32(60, 0);                  // nb_snapshots
        U64(64, 0);                  // snapshots_offset
        U64(72, 0);                  // incompatible_features
        U64(80, 0);                  // compatible_features
        U64(88, 0);                  // autoclear_features
        U32(96, 4);                  // refcount_order: 16-bit refcounts
        U32(100, headerLength);      // header_length
        b[104] = 0;                  // compression_type: deflate; bytes 105..111 are padding
        return b;
    }

    [Test]
    public void Parses_every_field_of_a_v3_header()
    {
        var h = Qcow2Header.Parse(V3Header());
        Assert.Multiple(() =>
        {
            Assert.That(h.Version, Is.EqualTo(3));
            Assert.That(h.ClusterBits, Is.EqualTo(16));
            Assert.That(h.Size, Is.EqualTo(4UL << 20));
            Assert.That(h.L1Size, Is.EqualTo(1));
            Assert.That(h.L1TableOffset, Is.EqualTo(0x30000));
            Assert.That(h.RefcountTableOffset, Is.EqualTo(0x10000));
            Assert.That(h.RefcountTableClusters, Is.EqualTo(1));
            Assert.That(h.RefcountBits, Is.EqualTo(16));
            Assert.That(h.HeaderLength, Is.EqualTo(112));
            Assert.That(h.ExtensionsOffset, Is.EqualTo(112));
            Assert.That(h.CompressionType, Is.EqualTo(CompressionType.Deflate));
            Assert.That(h.TrailingBytes.ToArray(), Is.EqualTo(new byte[7]), "the 7 padding bytes after compression_type");
        });
        Assert.DoesNotThrow(() => h.Validate(0x40000));
    }

    [Test]
    public void Write_round_trips_header_length_112()
    {
        var original = V3Header();
        var h = Qcow2Header.Parse(original);
        var written = new byte[112];
        h.WriteTo(written);
        Assert.That(written, Is.EqualTo(original[..112]));
    }

    [Test]
    public void Unknown_trailing_header_bytes_are_kept_by_a_rewrite()
    {
        var original = V3Header(headerLength: 128);
        for (int i = 112; i < 128; i++)
        {
            original[i] = (byte)(0xA0 + i - 112); // fields of a future header version
        }

        var h = Qcow2Header.Parse(original) with { Size = 8 << 20 };
        var written = new byte[128];
        h.WriteTo(written);
        Assert.That(written[112..128], Is.EqualTo(original[112..128]));
        Assert.That(BinaryPrimitives.ReadUInt64BigEndian(written.AsSpan(24)), Is.EqualTo(8UL << 20));
    }

    [Test]
    public void V3_header_of_104_bytes_has_no_compression_type_byte()
    {
        var bytes = V3Header(headerLength: 104);
        bytes[104] = 1; // an extension would start here; it is not the compression type
        var h = Qcow2Header.Parse(bytes);
        Assert.That(h.CompressionType, Is.EqualTo(CompressionType.Deflate));
        Assert.That(h.TrailingBytes.ToArray(), Is.Empty);
    }

    [Test]
    public void V2_header_uses_72_bytes_and_16_bit_refcounts()
    {
        var bytes = V3Header();
        BinaryPrimitives.WriteUInt32BigEndian(bytes.AsSpan(4), 2);
        var h = Qcow2Header.Parse(bytes);
        Assert.That((h.Version, h.ExtensionsOffset, h.RefcountBits, h.IncompatibleFeatures), Is.EqualTo((2u, 72, 16, IncompatibleFeatures.None)));
        var written = new byte[72];
        h.WriteTo(written);
        Assert.That(written, Is.EqualTo(bytes[..72]));
    }

    [TestCase(96u)]
    [TestCase(108u)]
    [TestCase(65544u)]
    public void Header_length_out_of_range_is_refused(uint headerLength)
    {
        var e = Assert.Throws<Qcow2Exception>(() => Qcow2Header.Parse(V3Header(headerLength)))!;
        Assert.That(e.Code, Is.EqualTo(Qcow2ErrorCode.InvalidHeader));
    }

    [TestCase(20, 8u, Qcow2ErrorCode.InvalidHeader, TestName = "cluster_bits 8")]
    [TestCase(20, 22u, Qcow2ErrorCode.InvalidHeader, TestName = "cluster_bits 22")]
    [TestCase(96, 7u, Qcow2ErrorCode.InvalidHeader, TestName = "refcount_order 7")]
    [TestCase(32, 3u, Qcow2ErrorCode.InvalidHeader, TestName = "crypt_method 3")]
    [TestCase(36, 0u, Qcow2ErrorCode.InvalidHeader, TestName = "l1_size 0 for 4 MiB")]
    [TestCase(56, 0u, Qcow2ErrorCode.InvalidHeader, TestName = "refcount_table_clusters 0")]
    public void Validate_refuses_fields_out_of_range(int offset, uint value, Qcow2ErrorCode code)
    {
        var bytes = V3Header();
        BinaryPrimitives.WriteUInt32BigEndian(bytes.AsSpan(offset), value);
        var e = Assert.Throws<Qcow2Exception>(() => Qcow2Header.Parse(bytes).Validate(0x40000))!;
        Assert.That(e.Code, Is.EqualTo(code));
    }

    [TestCase(40, 0x30008UL, TestName = "L1 unaligned")]
    [TestCase(40, 0UL, TestName = "L1 over the header")]
    [TestCase(40, 0x40000UL, TestName = "L1 past EOF")]
    [TestCase(48, 0xFFFF_FFFF_FFFF_0000UL, TestName = "refcount table at 2^64 - 64 KiB")]
    public void Validate_reports_misplaced_tables_as_corrupt(int offset, ulong value)
    {
        var bytes = V3Header();
        BinaryPrimitives.WriteUInt64BigEndian(bytes.AsSpan(offset), value);
        var e = Assert.Throws<Qcow2Exception>(() => Qcow2Header.Parse(bytes).Validate(0x40000))!;
        Assert.That(e.Code, Is.EqualTo(Qcow2ErrorCode.Corrupt));
    }

    [Test]
    public void Compression_type_must_agree_with_incompatible_bit_3()
    {
        var bytes = V3Header();
        bytes[104] = 1;
        Assert.That(Assert.Throws<Qcow2Exception>(() => Qcow2Header.Parse(bytes).Validate(0x40000))!.Code, Is.EqualTo(Qcow2ErrorCode.InvalidHeader));
        BinaryPrimitives.WriteUInt64BigEndian(bytes.AsSpan(72), (ulong)IncompatibleFeatures.CompressionType);
        Assert.That(Qcow2Header.Parse(bytes).CompressionType, Is.EqualTo(CompressionType.Zstd));
        Assert.DoesNotThrow(() => Qcow2Header.Parse(bytes).Validate(0x40000));
    }
}
