using System.Runtime.InteropServices;

namespace Qcow2Mount.Qcow2.Compression;

/// <summary>
/// Raw deflate with one inflater per thread, set up once and reset per cluster, where a
/// <see cref="System.IO.Compression.DeflateStream"/> would set up and tear down a whole inflater (state and 32 KiB
/// window) for every cluster. Two back ends, first found wins:
/// <list type="number">
/// <item>The .NET runtime's own System.IO.Compression.Native (zlib-ng, the library DeflateStream uses), through its
/// exported CompressionNative_* functions and their PAL_ZStream; zlib-ng inflates about twice as fast as zlib.</item>
/// <item>The system's libz.so.1 (64-bit Linux, where <c>z_stream</c>'s layout is fixed by the LP64 ABI).</item>
/// </list>
/// Without either, <see cref="IsAvailable"/> is false and callers use DeflateStream.
/// </summary>
internal sealed unsafe class NativeInflater
{
    private const int ZOk = 0;
    private const int ZStreamEnd = 1;
    private const int ZBufError = -5;
    private const int ZFinish = 4;
    private const int RawDeflateWindowBits = -15;

    private static readonly Api? s_api = (Api?)RuntimeApi.TryLoad() ?? SystemApi.TryLoad();

    [ThreadStatic]
    private static NativeInflater? t_inflater;

    private readonly byte* _stream;

    private NativeInflater()
    {
        _stream = (byte*)NativeMemory.AllocZeroed((nuint)s_api!.StreamSize);
        int rc = s_api.Init(_stream);
        if (rc != ZOk)
        {
            NativeMemory.Free(_stream);
            throw new Qcow2Exception(Qcow2ErrorCode.Io, $"inflateInit2 failed ({rc})");
        }
    }

    /// <summary>Frees the native state when the thread that owned it is gone.</summary>
    ~NativeInflater()
    {
        s_api!.End(_stream);
        NativeMemory.Free(_stream);
    }

    public static bool IsAvailable => s_api is not null;

    /// <summary>Which library inflates ("zlib-ng (.NET runtime)", "zlib (system)"), or null.</summary>
    public static string? Backend => s_api?.Name;

    /// <summary>Inflates until <paramref name="cluster"/> is full or the stream ends; returns the bytes produced.</summary>
    public static int Inflate(ReadOnlySpan<byte> source, Span<byte> cluster)
    {
        var inflater = t_inflater ??= new NativeInflater();
        return inflater.Run(source, cluster);
    }

    private int Run(ReadOnlySpan<byte> source, Span<byte> cluster)
    {
        var api = s_api!;
        fixed (byte* input = source)
        fixed (byte* output = cluster)
        {
            api.Reset(_stream);
            api.SetBuffers(_stream, input, (uint)source.Length, output, (uint)cluster.Length);

            // As QEMU: one Z_FINISH call; "no room left" (Z_BUF_ERROR) is fine once the cluster is full, because
            // the stored range is rounded up to sectors and may run past the end of the deflate stream.
            int rc = api.Inflate(_stream, ZFinish);
            int produced = cluster.Length - (int)api.AvailOut(_stream);
            if (rc is not (ZStreamEnd or ZOk or ZBufError))
            {
                byte* msg = api.Message(_stream);
                string detail = msg is null ? $"zlib error {rc}" : Marshal.PtrToStringUTF8((nint)msg) ?? $"zlib error {rc}";
                throw new InvalidDataException(detail);
            }

            return produced;
        }
    }

    /// <summary>One back end: its stream layout and entry points.</summary>
    private abstract class Api
    {
        public abstract string Name { get; }
        public abstract int StreamSize { get; }
        public abstract int Init(byte* stream);
        public abstract int Reset(byte* stream);
        public abstract int Inflate(byte* stream, int flush);
        public abstract int End(byte* stream);
        public abstract void SetBuffers(byte* stream, byte* input, uint inputLength, byte* output, uint outputLength);
        public abstract uint AvailOut(byte* stream);
        public abstract byte* Message(byte* stream);
    }

    /// <summary>
    /// The runtime's PAL_ZStream: nextIn, nextOut, msg, internalState (pointers), then availIn, availOut (uint32).
    /// </summary>
    private sealed class RuntimeApi : Api
    {
        private delegate* unmanaged<byte*, int, int> _init;
        private delegate* unmanaged<byte*, int, int> _reset;
        private delegate* unmanaged<byte*, int, int> _inflate;
        private delegate* unmanaged<byte*, int> _end;

        public override string Name => "zlib-ng (.NET runtime)";
        public override int StreamSize => 40;

        public static RuntimeApi? TryLoad()
        {
            if (IntPtr.Size != 8
                || !NativeLibrary.TryLoad("System.IO.Compression.Native", typeof(System.IO.Compression.DeflateStream).Assembly, null, out nint lib))
            {
                return null;
            }

            return NativeLibrary.TryGetExport(lib, "CompressionNative_InflateInit2_", out nint init)
                && NativeLibrary.TryGetExport(lib, "CompressionNative_InflateReset2_", out nint reset)
                && NativeLibrary.TryGetExport(lib, "CompressionNative_Inflate", out nint inflate)
                && NativeLibrary.TryGetExport(lib, "CompressionNative_InflateEnd", out nint end)
                ? new RuntimeApi
                {
                    _init = (delegate* unmanaged<byte*, int, int>)init,
                    _reset = (delegate* unmanaged<byte*, int, int>)reset,
                    _inflate = (delegate* unmanaged<byte*, int, int>)inflate,
                    _end = (delegate* unmanaged<byte*, int>)end,
                }
                : null;
        }

        public override int Init(byte* stream) => _init(stream, RawDeflateWindowBits);
        public override int Reset(byte* stream) => _reset(stream, RawDeflateWindowBits);
        public override int Inflate(byte* stream, int flush) => _inflate(stream, flush);
        public override int End(byte* stream) => _end(stream);

        public override void SetBuffers(byte* stream, byte* input, uint inputLength, byte* output, uint outputLength)
        {
            *(byte**)stream = input;
            *(byte**)(stream + 8) = output;
            *(uint*)(stream + 32) = inputLength;
            *(uint*)(stream + 36) = outputLength;
        }

        public override uint AvailOut(byte* stream) => *(uint*)(stream + 36);
        public override byte* Message(byte* stream) => *(byte**)(stream + 16);
    }

    /// <summary>
    /// LP64 z_stream: next_in, avail_in, total_in, next_out, avail_out, total_out, msg, state, zalloc, zfree,
    /// opaque, data_type, adler, reserved (112 bytes).
    /// </summary>
    private sealed class SystemApi : Api
    {
        private delegate* unmanaged<void*, int, byte*, int, int> _init;
        private delegate* unmanaged<void*, int, int> _inflate;
        private delegate* unmanaged<void*, int> _reset;
        private delegate* unmanaged<void*, int> _end;
        private byte* _version;

        public override string Name => "zlib (system)";
        public override int StreamSize => 112;

        public static SystemApi? TryLoad()
        {
            if (!OperatingSystem.IsLinux() || IntPtr.Size != 8 || !NativeLibrary.TryLoad("libz.so.1", out nint lib))
            {
                return null;
            }

            return NativeLibrary.TryGetExport(lib, "inflateInit2_", out nint init)
                && NativeLibrary.TryGetExport(lib, "inflate", out nint inflate)
                && NativeLibrary.TryGetExport(lib, "inflateReset", out nint reset)
                && NativeLibrary.TryGetExport(lib, "inflateEnd", out nint end)
                && NativeLibrary.TryGetExport(lib, "zlibVersion", out nint version)
                ? new SystemApi
                {
                    _init = (delegate* unmanaged<void*, int, byte*, int, int>)init,
                    _inflate = (delegate* unmanaged<void*, int, int>)inflate,
                    _reset = (delegate* unmanaged<void*, int>)reset,
                    _end = (delegate* unmanaged<void*, int>)end,
                    _version = ((delegate* unmanaged<byte*>)version)(),
                }
                : null;
        }

        public override int Init(byte* stream) => _init(stream, RawDeflateWindowBits, _version, StreamSize);
        public override int Reset(byte* stream) => _reset(stream);
        public override int Inflate(byte* stream, int flush) => _inflate(stream, flush);
        public override int End(byte* stream) => _end(stream);

        public override void SetBuffers(byte* stream, byte* input, uint inputLength, byte* output, uint outputLength)
        {
            *(byte**)stream = input;
            *(uint*)(stream + 8) = inputLength;
            *(byte**)(stream + 24) = output;
            *(uint*)(stream + 32) = outputLength;
        }

        public override uint AvailOut(byte* stream) => *(uint*)(stream + 32);
        public override byte* Message(byte* stream) => *(byte**)(stream + 48);
    }
}
