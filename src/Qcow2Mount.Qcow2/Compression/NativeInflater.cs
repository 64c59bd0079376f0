using System.Runtime.InteropServices;

namespace Qcow2Mount.Qcow2.Compression;

/// <summary>
/// Raw deflate through the system's libz (<c>inflateInit2</c> once per thread, <c>inflateReset</c> per cluster),
/// where a <see cref="System.IO.Compression.DeflateStream"/> would set up and tear down a whole inflater (state and
/// 32 KiB window) for every cluster. Only on 64-bit Linux, where <c>z_stream</c>'s layout is fixed by the LP64 ABI;
/// elsewhere, or without libz.so.1, <see cref="IsAvailable"/> is false and callers use DeflateStream.
/// </summary>
internal sealed unsafe class NativeInflater
{
    // LP64 z_stream: next_in, avail_in, total_in, next_out, avail_out, total_out, msg, state, zalloc, zfree,
    // opaque, data_type, adler, reserved.
    private const int StreamSize = 112;
    private const int NextInOffset = 0;
    private const int AvailInOffset = 8;
    private const int NextOutOffset = 24;
    private const int AvailOutOffset = 32;
    private const int MsgOffset = 48;

    private const int ZOk = 0;
    private const int ZStreamEnd = 1;
    private const int ZBufError = -5;
    private const int ZFinish = 4;
    private const int RawDeflateWindowBits = -15;

    private static readonly Api? s_api = Api.TryLoad();

    [ThreadStatic]
    private static NativeInflater? t_inflater;

    private readonly byte* _stream;

    private NativeInflater()
    {
        _stream = (byte*)NativeMemory.AllocZeroed(StreamSize);
        int rc = s_api!.InflateInit2(_stream, RawDeflateWindowBits, s_api.Version, StreamSize);
        if (rc != ZOk)
        {
            NativeMemory.Free(_stream);
            throw new Qcow2Exception(Qcow2ErrorCode.Io, $"zlib inflateInit2 failed ({rc})");
        }
    }

    /// <summary>Frees the native state when the thread that owned it is gone.</summary>
    ~NativeInflater()
    {
        s_api!.InflateEnd(_stream);
        NativeMemory.Free(_stream);
    }

    public static bool IsAvailable => s_api is not null;

    /// <summary>Inflates until <paramref name="cluster"/> is full or the stream ends; returns the bytes produced.</summary>
    public static int Inflate(ReadOnlySpan<byte> source, Span<byte> cluster)
    {
        var inflater = t_inflater ??= new NativeInflater();
        return inflater.Run(source, cluster);
    }

    private int Run(ReadOnlySpan<byte> source, Span<byte> cluster)
    {
        fixed (byte* input = source)
        fixed (byte* output = cluster)
        {
            s_api!.InflateReset(_stream);
            *(byte**)(_stream + NextInOffset) = input;
            *(uint*)(_stream + AvailInOffset) = (uint)source.Length;
            *(byte**)(_stream + NextOutOffset) = output;
            *(uint*)(_stream + AvailOutOffset) = (uint)cluster.Length;

            // As QEMU: one Z_FINISH call; "no room left" (Z_BUF_ERROR) is fine once the cluster is full, because
            // the stored range is rounded up to sectors and may run past the end of the deflate stream.
            int rc = s_api.Inflate(_stream, ZFinish);
            int produced = cluster.Length - (int)*(uint*)(_stream + AvailOutOffset);
            if (rc is not (ZStreamEnd or ZOk or ZBufError))
            {
                byte* msg = *(byte**)(_stream + MsgOffset);
                string detail = msg is null ? $"zlib error {rc}" : Marshal.PtrToStringUTF8((nint)msg) ?? $"zlib error {rc}";
                throw new InvalidDataException(detail);
            }

            return produced;
        }
    }

    private sealed class Api
    {
        public required delegate* unmanaged<void*, int, byte*, int, int> InflateInit2 { get; init; }
        public required delegate* unmanaged<void*, int, int> Inflate { get; init; }
        public required delegate* unmanaged<void*, int> InflateReset { get; init; }
        public required delegate* unmanaged<void*, int> InflateEnd { get; init; }
        public required byte* Version { get; init; }

        public static Api? TryLoad()
        {
            if (!OperatingSystem.IsLinux() || IntPtr.Size != 8 || !NativeLibrary.TryLoad("libz.so.1", out nint lib))
            {
                return null;
            }

            if (!NativeLibrary.TryGetExport(lib, "inflateInit2_", out nint init)
                || !NativeLibrary.TryGetExport(lib, "inflate", out nint inflate)
                || !NativeLibrary.TryGetExport(lib, "inflateReset", out nint reset)
                || !NativeLibrary.TryGetExport(lib, "inflateEnd", out nint end)
                || !NativeLibrary.TryGetExport(lib, "zlibVersion", out nint version))
            {
                return null;
            }

            return new Api
            {
                InflateInit2 = (delegate* unmanaged<void*, int, byte*, int, int>)init,
                Inflate = (delegate* unmanaged<void*, int, int>)inflate,
                InflateReset = (delegate* unmanaged<void*, int>)reset,
                InflateEnd = (delegate* unmanaged<void*, int>)end,
                Version = ((delegate* unmanaged<byte*>)version)(),
            };
        }
    }
}
