using System.IO.Compression;
using Qcow2Mount.Qcow2.Format;

namespace Qcow2Mount.Qcow2.Compression;

/// <summary>
/// Inflates one compressed cluster: raw deflate (no zlib header) or a zstd frame. Decompression stops once a
/// cluster is produced, because the stored range ends at a sector boundary and its tail may belong to the next
/// compressed cluster.
/// </summary>
internal static class ClusterDecompressor
{
    /// <summary>Use the system's libz/libzstd when present (tests turn it off to cover the managed fallbacks).</summary>
    internal static bool PreferNative { get; set; } = true;

    /// <summary>
    /// Inflates into <paramref name="cluster"/>, which must come out exactly full. With <paramref name="prefixOnly"/>
    /// it may be shorter than the cluster (deflate only: decoding stops once it is full).
    /// </summary>
    public static void Decompress(CompressionType type, ReadOnlySpan<byte> source, Span<byte> cluster, bool prefixOnly = false)
    {
        if (prefixOnly && type != CompressionType.Deflate)
        {
            throw new ArgumentException("only deflate clusters can be inflated in part", nameof(prefixOnly));
        }

        try
        {
            int produced = type switch
            {
                // Whole clusters go to libdeflate first; anything it does not turn into exactly one cluster goes
                // on to the streaming inflater, which stops at the cluster's end and reports errors.
                CompressionType.Deflate when PreferNative && !prefixOnly && LibDeflate.IsAvailable && LibDeflate.TryInflate(source, cluster) =>
                    cluster.Length,
                CompressionType.Deflate => PreferNative && NativeInflater.IsAvailable
                    ? NativeInflater.Inflate(source, cluster)
                    : Inflate(source, cluster),
                CompressionType.Zstd => PreferNative && NativeZstd.IsAvailable
                    ? NativeZstd.Decompress(source, cluster)
                    : Unzstd(source, cluster),
                _ => throw new Qcow2Exception(Qcow2ErrorCode.Unsupported, $"unknown compression type {(byte)type}"),
            };
            if (produced != cluster.Length)
            {
                throw new Qcow2Exception(Qcow2ErrorCode.Corrupt,
                    $"compressed cluster inflates to {produced} bytes, expected {cluster.Length}");
            }
        }
        catch (InvalidDataException e)
        {
            throw new Qcow2Exception(Qcow2ErrorCode.Corrupt, $"compressed cluster is corrupt: {e.Message}", e);
        }
        catch (ZstdSharp.ZstdException e)
        {
            throw new Qcow2Exception(Qcow2ErrorCode.Corrupt, $"compressed cluster is corrupt: {e.Message}", e);
        }
    }

    private static unsafe int Inflate(ReadOnlySpan<byte> source, Span<byte> cluster)
    {
        fixed (byte* p = source)
        {
            using var input = new UnmanagedMemoryStream(p, source.Length);
            using var inflater = new DeflateStream(input, CompressionMode.Decompress);
            int total = 0;
            while (total < cluster.Length)
            {
                int n = inflater.Read(cluster[total..]);
                if (n == 0)
                {
                    break;
                }

                total += n;
            }

            return total;
        }
    }

    [ThreadStatic]
    private static ZstdSharp.Decompressor? t_zstd;

    private static unsafe int Unzstd(ReadOnlySpan<byte> source, Span<byte> cluster)
    {
        // The stored range may carry trailing bytes past the frame: decode exactly one frame.
        nuint frameSize;
        fixed (byte* p = source)
        {
            frameSize = ZstdSharp.Unsafe.Methods.ZSTD_findFrameCompressedSize(p, (nuint)source.Length);
        }

        if (ZstdSharp.Unsafe.Methods.ZSTD_isError(frameSize))
        {
            throw new Qcow2Exception(Qcow2ErrorCode.Corrupt, "compressed cluster is corrupt: no complete zstd frame");
        }

        t_zstd ??= new ZstdSharp.Decompressor();
        return t_zstd.Unwrap(source[..(int)frameSize], cluster);
    }
}
