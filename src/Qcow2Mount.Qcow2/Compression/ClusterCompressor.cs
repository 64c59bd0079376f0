using System.IO.Compression;
using Qcow2Mount.Qcow2.Format;

namespace Qcow2Mount.Qcow2.Compression;

/// <summary>
/// Compresses one cluster the way QEMU stores it: raw deflate (no zlib header) or one zstd frame.
/// </summary>
internal static class ClusterCompressor
{
    /// <summary>Use the system's libzstd when present (tests turn it off to cover the managed fallback).</summary>
    internal static bool PreferNative { get; set; } = true;

    /// <summary>
    /// Compresses <paramref name="cluster"/> into <paramref name="destination"/>; returns the compressed length, or
    /// -1 when the result would not fit (the caller then stores the cluster uncompressed, as QEMU does).
    /// </summary>
    public static int Compress(CompressionType type, ReadOnlySpan<byte> cluster, Span<byte> destination) => type switch
    {
        CompressionType.Deflate => Deflate(cluster, destination),
        CompressionType.Zstd => Zstd(cluster, destination),
        _ => throw new Qcow2Exception(Qcow2ErrorCode.Unsupported, $"unknown compression type {(byte)type}"),
    };

    [ThreadStatic]
    private static ZstdSharp.Compressor? t_zstd;

    private static int Zstd(ReadOnlySpan<byte> cluster, Span<byte> destination)
    {
        // libzstd compresses ~1.5x faster than the managed port; both write plain frames any reader takes.
        if (PreferNative && NativeZstdCompressor.IsAvailable)
        {
            return NativeZstdCompressor.Compress(cluster, destination);
        }

        // QEMU compresses with zstd's default level (3).
        t_zstd ??= new ZstdSharp.Compressor(NativeZstdCompressor.Level);
        return t_zstd.TryWrap(cluster, destination, out int written) ? written : -1;
    }

    [ThreadStatic]
    private static MemoryStream? t_deflated;

    private static int Deflate(ReadOnlySpan<byte> cluster, Span<byte> destination)
    {
        var output = t_deflated ??= new MemoryStream();
        output.SetLength(0);
        // Raw deflate at zlib's default level, as QEMU writes it. QEMU deflates with a 4 KiB window, which .NET
        // cannot set; a larger window only lengthens back references inside the cluster, and every reader
        // (QEMU too) inflates a whole cluster into one buffer, where such references resolve.
        using (var deflater = new DeflateStream(output, CompressionLevel.Optimal, leaveOpen: true))
        {
            deflater.Write(cluster);
        }

        if (output.Length > destination.Length)
        {
            return -1;
        }

        output.GetBuffer().AsSpan(0, (int)output.Length).CopyTo(destination);
        return (int)output.Length;
    }
}
