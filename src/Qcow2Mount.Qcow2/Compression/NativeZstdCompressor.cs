using System.Runtime.InteropServices;

namespace Qcow2Mount.Qcow2.Compression;

/// <summary>
/// zstd frames through the system's libzstd (one compression context per thread, reused), at QEMU's level 3.
/// Without libzstd.so.1 (Windows, minimal installs) <see cref="IsAvailable"/> is false and callers use ZstdSharp.
/// </summary>
internal sealed unsafe class NativeZstdCompressor
{
    /// <summary>zstd's default level, which QEMU's qcow2 compression uses.</summary>
    public const int Level = 3;

    private static readonly Api? s_api = Api.TryLoad();

    [ThreadStatic]
    private static NativeZstdCompressor? t_context;

    private readonly void* _cctx;

    private NativeZstdCompressor()
    {
        _cctx = s_api!.CreateCCtx();
        if (_cctx is null)
        {
            throw new InsufficientMemoryException("ZSTD_createCCtx failed");
        }
    }

    /// <summary>Frees the native context when the thread that owned it is gone.</summary>
    ~NativeZstdCompressor() => s_api!.FreeCCtx(_cctx);

    public static bool IsAvailable => s_api is not null;

    /// <summary>
    /// Compresses <paramref name="source"/> into one frame in <paramref name="destination"/>; returns its length,
    /// or -1 when it does not fit.
    /// </summary>
    public static int Compress(ReadOnlySpan<byte> source, Span<byte> destination)
    {
        var context = t_context ??= new NativeZstdCompressor();
        fixed (byte* input = source)
        fixed (byte* output = destination)
        {
            var api = s_api!;
            nuint written = api.CompressCCtx(context._cctx, output, (nuint)destination.Length, input, (nuint)source.Length, Level);
            if (api.IsError(written) == 0)
            {
                return (int)written;
            }

            // "Destination buffer is too small" is the only error a valid context and level can give.
            return -1;
        }
    }

    private sealed class Api
    {
        public required delegate* unmanaged<void*> CreateCCtx { get; init; }
        public required delegate* unmanaged<void*, nuint> FreeCCtx { get; init; }
        public required delegate* unmanaged<void*, byte*, nuint, byte*, nuint, int, nuint> CompressCCtx { get; init; }
        public required delegate* unmanaged<nuint, uint> IsError { get; init; }

        public static Api? TryLoad()
        {
            string name = OperatingSystem.IsMacOS() ? "libzstd.1.dylib" : "libzstd.so.1";
            if (OperatingSystem.IsWindows() || !NativeLibrary.TryLoad(name, out nint lib))
            {
                return null;
            }

            if (!NativeLibrary.TryGetExport(lib, "ZSTD_createCCtx", out nint create)
                || !NativeLibrary.TryGetExport(lib, "ZSTD_freeCCtx", out nint free)
                || !NativeLibrary.TryGetExport(lib, "ZSTD_compressCCtx", out nint compress)
                || !NativeLibrary.TryGetExport(lib, "ZSTD_isError", out nint isError))
            {
                return null;
            }

            return new Api
            {
                CreateCCtx = (delegate* unmanaged<void*>)create,
                FreeCCtx = (delegate* unmanaged<void*, nuint>)free,
                CompressCCtx = (delegate* unmanaged<void*, byte*, nuint, byte*, nuint, int, nuint>)compress,
                IsError = (delegate* unmanaged<nuint, uint>)isError,
            };
        }
    }
}
