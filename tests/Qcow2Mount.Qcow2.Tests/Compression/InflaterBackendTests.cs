using System.IO.Compression;
using NUnit.Framework;
using Qcow2Mount.Qcow2.Compression;
using Qcow2Mount.Qcow2.Format;

namespace Qcow2Mount.Qcow2.Tests.Compression;

/// <summary>
/// The native inflaters against .NET's own deflate: same bytes for whole clusters, prefixes where streaming allows
/// it, and libdeflate declining (never guessing) whatever is not exactly one cluster.
/// </summary>
[TestFixture]
internal class InflaterBackendTests
{
    private const int Cluster = 65536;

    private static byte[] TextCluster(int seed)
    {
        var random = new Random(seed);
        var text = new byte[Cluster];
        for (int i = 0; i < text.Length; i++)
        {
            // Text-like: a small alphabet with repeats, so the stream has literals and matches.
            text[i] = i % 97 < 40 ? (byte)('a' + random.Next(26)) : text[Math.Max(0, i - 61)];
        }

        return text;
    }

    private static byte[] Deflate(ReadOnlySpan<byte> data)
    {
        var output = new MemoryStream();
        using (var deflater = new DeflateStream(output, CompressionLevel.Optimal, leaveOpen: true))
        {
            deflater.Write(data);
        }

        // Stored compressed clusters are padded to whole sectors: trailing bytes must not matter.
        output.Write(new byte[511 - (int)(output.Length % 512)]);
        return output.ToArray();
    }

    [Test]
    public void Libdeflate_inflates_whole_clusters_like_deflate_stream()
    {
        if (!LibDeflate.IsAvailable)
        {
            Assert.Ignore("libdeflate.so.0 is not installed (apt-get install libdeflate0): the whole-cluster fast path is untested here");
        }

        for (int seed = 0; seed < 8; seed++)
        {
            var cluster = TextCluster(seed);
            var output = new byte[Cluster];
            Assert.That(LibDeflate.TryInflate(Deflate(cluster), output), Is.True);
            Assert.That(output, Is.EqualTo(cluster));
        }
    }

    [Test]
    public void Libdeflate_declines_streams_longer_or_shorter_than_a_cluster_and_garbage()
    {
        if (!LibDeflate.IsAvailable)
        {
            Assert.Ignore("libdeflate.so.0 is not installed (apt-get install libdeflate0)");
        }

        var twoClusters = Deflate([.. TextCluster(1), .. TextCluster(2)]);
        var half = Deflate(TextCluster(3).AsSpan(0, Cluster / 2));
        var garbage = new byte[4096];
        new Random(5).NextBytes(garbage);
        Assert.Multiple(() =>
        {
            Assert.That(LibDeflate.TryInflate(twoClusters, new byte[Cluster]), Is.False, "longer");
            Assert.That(LibDeflate.TryInflate(half, new byte[Cluster]), Is.False, "shorter");
            Assert.That(LibDeflate.TryInflate(garbage, new byte[Cluster]), Is.False, "garbage");
        });
    }

    [Test]
    public void A_stream_longer_than_the_cluster_is_cut_at_the_cluster_as_qemu_does()
    {
        var first = TextCluster(1);
        var output = new byte[Cluster];
        ClusterDecompressor.Decompress(CompressionType.Deflate, Deflate([.. first, .. TextCluster(2)]), output);
        Assert.That(output, Is.EqualTo(first));
    }

    [Test]
    public void A_prefix_inflates_to_the_clusters_first_bytes()
    {
        var cluster = TextCluster(7);
        var prefix = new byte[12288];
        ClusterDecompressor.Decompress(CompressionType.Deflate, Deflate(cluster), prefix, prefixOnly: true);
        Assert.That(prefix, Is.EqualTo(cluster.AsSpan(0, prefix.Length).ToArray()));
    }

    [Test]
    public void Garbage_is_a_corrupt_cluster_whatever_inflates_it()
    {
        var garbage = new byte[4096];
        new Random(9).NextBytes(garbage);
        var error = Assert.Throws<Qcow2Exception>(() => ClusterDecompressor.Decompress(CompressionType.Deflate, garbage, new byte[Cluster]));
        Assert.That(error!.Code, Is.EqualTo(Qcow2ErrorCode.Corrupt));
    }
}
