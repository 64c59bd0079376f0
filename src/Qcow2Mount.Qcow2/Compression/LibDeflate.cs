using System.Runtime.InteropServices;

namespace Qcow2Mount.Qcow2.Compression;

/// <summary>
/// Whole-cluster raw deflate through libdeflate (libdeflate.so.0), which decodes a buffer in one call about twice
/// as fast as zlib's streaming inflate. It cannot stop part way, so it serves only reads of whole clusters, and
/// any result other than "exactly one cluster" is left to <see cref="NativeInflater"/> (which then reports the
/// error, or accepts a stream that runs past the cluster the way QEMU does). Optional: without the library,
/// <see cref="IsAvailable"/> is false.
/// </summary>
internal sealed unsafe class LibDeflate
{
    private const int Success = 0;

    private static readonly Api? s_api = Api.TryLoad();

    [ThreadStatic]
    private static LibDeflate? t_decompressor;

    private readonly void* _decompressor;

    private LibDeflate()
    {
        _decompressor = s_api!.Alloc();
        if (_decompressor is null)
        {
            throw new InsufficientMemoryException("libdeflate_alloc_decompressor failed");
        }
    }

    /// <summary>Frees the decompressor when the thread that owned it is gone.</summary>
    ~LibDeflate() => s_api!.Free(_decompressor);

    public static bool IsAvailable => s_api is not null;

    /// <summary>Inflates <paramref name="source"/> into exactly <paramref name="cluster"/>; false when it does not.</summary>
    public static bool TryInflate(ReadOnlySpan<byte> source, Span<byte> cluster)
    {
        var self = t_decompressor ??= new LibDeflate();
        fixed (byte* input = source)
        fixed (byte* output = cluster)
        {
            nuint consumed, produced;
            int rc = s_api!.Decompress(self._decompressor, input, (nuint)source.Length, output, (nuint)cluster.Length, &consumed, &produced);
            return rc == Success && produced == (nuint)cluster.Length;
        }
    }

    private sealed class Api
    {
        public required delegate* unmanaged<void*> Alloc { get; init; }
        public required delegate* unmanaged<void*, void> Free { get; init; }
        public required delegate* unmanaged<void*, byte*, nuint, byte*, nuint, nuint*, nuint*, int> Decompress { get; init; }

        public static Api? TryLoad()
        {
            string name = OperatingSystem.IsWindows() ? "libdeflate.dll" : OperatingSystem.IsMacOS() ? "libdeflate.0.dylib" : "libdeflate.so.0";
            if (!NativeLibrary.TryLoad(name, out nint lib))
            {
                return null;
            }

            return NativeLibrary.TryGetExport(lib, "libdeflate_alloc_decompressor", out nint alloc)
                && NativeLibrary.TryGetExport(lib, "libdeflate_free_decompressor", out nint free)
                && NativeLibrary.TryGetExport(lib, "libdeflate_deflate_decompress_ex", out nint decompress)
                ? new Api
                {
                    Alloc = (delegate* unmanaged<void*>)alloc,
                    Free = (delegate* unmanaged<void*, void>)free,
                    Decompress = (delegate* unmanaged<void*, byte*, nuint, byte*, nuint, nuint*, nuint*, int>)decompress,
                }
                : null;
        }
    }
}
