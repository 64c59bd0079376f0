using Qcow2Mount.Qcow2.Backing;
using Qcow2Mount.Qcow2.Format;
using Qcow2Mount.Qcow2.Storage;

namespace Qcow2Mount.Qcow2;

/// <summary>Opens any disk this engine reads (qcow2 or raw), probing the format when it is not named.</summary>
public static class VirtualDisk
{
    public static IVirtualDisk Open(string path, string? format = null, Qcow2OpenOptions? options = null) =>
        Open(path, format, options ?? new Qcow2OpenOptions(), new BackingChainState());

    internal static IVirtualDisk Open(string path, string? format, Qcow2OpenOptions options, BackingChainState chain)
    {
        format ??= Probe(path);
        return format switch
        {
            "qcow2" => Qcow2Image.Open(path, options, chain),
            "raw" => RawDisk.Open(path, options.Writable, options.HoldReaderLock, options.ForceShare),
            _ => throw new Qcow2Exception(Qcow2ErrorCode.Unsupported, $"{path}: unsupported image format '{format}'"),
        };
    }

    /// <summary>"qcow2" when the file starts with the qcow2 magic, else "raw".</summary>
    public static string Probe(string path)
    {
        using var file = HostFile.Open(path, writable: false);
        Span<byte> magic = stackalloc byte[4];
        return file.ReadAt(0, magic) == 4 && Qcow2Header.HasMagic(magic) ? "qcow2" : "raw";
    }
}

/// <summary>The files already open in one backing chain, in order, to refuse loops and excessive depth.</summary>
public sealed class BackingChainState
{
    private readonly List<string> _order = [];
    private readonly HashSet<string> _paths = new(OperatingSystem.IsWindows() ? StringComparer.OrdinalIgnoreCase : StringComparer.Ordinal);

    public int Depth => _paths.Count;

    /// <summary>
    /// Adds the next file of the chain; throws <see cref="Qcow2ErrorCode.BackingChain"/> when it is already in
    /// the chain (the message shows the loop, e.g. <c>a -> b -> a</c>) or the chain grows past <paramref name="maxDepth"/>.
    /// </summary>
    public void Enter(string path, int maxDepth)
    {
        string full = Path.GetFullPath(path);
        if (!_paths.Add(full))
        {
            int start = _order.FindIndex(p => _paths.Comparer.Equals(p, full));
            throw new Qcow2Exception(Qcow2ErrorCode.BackingChain,
                $"backing chain loops: {string.Join(" -> ", _order.Skip(start))} -> {full}");
        }

        _order.Add(full);
        if (_paths.Count > maxDepth)
        {
            throw new Qcow2Exception(Qcow2ErrorCode.BackingChain, $"{full}: backing chain is deeper than {maxDepth} images");
        }
    }
}
