using System.Runtime.InteropServices;
using Qcow2Mount.Qcow2.Format;

namespace Qcow2Mount.Qcow2.Compression;

/// <summary>
/// Compresses one cluster the way QEMU stores it: raw deflate with a 4 KiB window (QEMU inflates with
/// windowBits -12, so a stream with longer back references would not read back there), or one zstd frame.
/// </summary>
internal static class ClusterCompressor
{
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
        // QEMU compresses with zstd's default level (3).
        t_zstd ??= new ZstdSharp.Compressor(3);
        return t_zstd.TryWrap(cluster, destination, out int written) ? written : -1;
    }

    // System.IO.Compression offers no window size, so this goes to the zlib (zlib-ng) that ships inside the
    // runtime, through the same exports DeflateStream itself uses.
    private const string ZlibLibrary = "libSystem.IO.Compression.Native";
    private const int ZOk = 0, ZStreamEnd = 1, ZFinish = 4, ZDeflated = 8;
    private const int DefaultLevel = -1, DefaultMemLevel = 8, DefaultStrategy = 0, RawWindowBits = -12;

    [StructLayout(LayoutKind.Sequential)]
    private unsafe struct ZStream
    {
        public byte* NextIn;
        public byte* NextOut;
        public IntPtr Message;
        public IntPtr InternalState;
        public uint AvailIn;
        public uint AvailOut;
    }

    [DllImport(ZlibLibrary, EntryPoint = "CompressionNative_DeflateInit2_")]
    private static extern unsafe int DeflateInit2(ZStream* stream, int level, int method, int windowBits, int memLevel, int strategy);

    [DllImport(ZlibLibrary, EntryPoint = "CompressionNative_Deflate")]
    private static extern unsafe int DeflateStep(ZStream* stream, int flush);

    [DllImport(ZlibLibrary, EntryPoint = "CompressionNative_DeflateEnd")]
    private static extern unsafe int DeflateEnd(ZStream* stream);

    private static unsafe int Deflate(ReadOnlySpan<byte> cluster, Span<byte> destination)
    {
        var stream = default(ZStream);
        int rc;
        try
        {
            rc = DeflateInit2(&stream, DefaultLevel, ZDeflated, RawWindowBits, DefaultMemLevel, DefaultStrategy);
        }
        catch (Exception e) when (e is DllNotFoundException or EntryPointNotFoundException)
        {
            throw new Qcow2Exception(Qcow2ErrorCode.Unsupported, "deflate compression: the runtime's zlib is not available", e);
        }

        if (rc != ZOk)
        {
            throw new Qcow2Exception(Qcow2ErrorCode.Io, $"deflate compression: initialisation failed ({rc})");
        }

        try
        {
            fixed (byte* input = cluster)
            fixed (byte* output = destination)
            {
                stream.NextIn = input;
                stream.AvailIn = (uint)cluster.Length;
                stream.NextOut = output;
                stream.AvailOut = (uint)destination.Length;
                rc = DeflateStep(&stream, ZFinish);
            }

            // Anything but the end of the stream means the output did not fit (Z_OK or Z_BUF_ERROR).
            return rc == ZStreamEnd ? destination.Length - (int)stream.AvailOut : -1;
        }
        finally
        {
            DeflateEnd(&stream);
        }
    }
}
