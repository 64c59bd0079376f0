using Qcow2Mount.Qcow2.Caching;
using Qcow2Mount.Qcow2.Crypto;
using Qcow2Mount.Qcow2.Format;
using Qcow2Mount.Qcow2.Mapping;
using Qcow2Mount.Qcow2.Snapshots;
using Qcow2Mount.Qcow2.Storage;

namespace Qcow2Mount.Qcow2;

/// <summary>
/// A qcow2 image: opens and validates the header, resolves the backing chain and external data file, and
/// serves the guest view (the active layer, or an internal snapshot read-only).
/// <para>
/// One partial file per responsibility, each with the state it owns: this file the files and geometry every part
/// uses, and the lifetime; <c>.Open</c> opening step by step; <c>.Read</c> the read path; <c>.Write</c> writes,
/// allocation, flush ordering and the dirty and corrupt bits; <c>.Compressed</c> storing a cluster compressed;
/// <c>.Bulk</c> filling a new image; <c>.Snapshots</c> internal snapshots; <c>.Resize</c> growing the disk.
/// </para>
/// </summary>
public sealed partial class Qcow2Image : IVirtualDisk, IHostMappedDisk
{
    private readonly IHostFile _file;
    private readonly IHostFile _dataFile;
    private readonly IVirtualDisk? _backing;
    private readonly ClusterMap _map;
    private readonly Geometry _geometry;
    private bool _disposed;

    private Qcow2Image(string path, IHostFile file, Qcow2Header header, HeaderExtensions extensions, string? backingFile,
        IHostFile? dataFile, IVirtualDisk? backing, List<SnapshotEntry> snapshots, ulong[] l1, long length,
        SnapshotEntry? view, Qcow2OpenOptions options, ImageEncryption? encryption)
    {
        Path = path;
        Encryption = encryption;
        _cipher = encryption?.Cipher;
        _file = file;
        Header = header;
        Extensions = extensions;
        BackingFile = backingFile;
        _dataFile = dataFile ?? file;
        _backing = backing;
        _snapshots = snapshots;
        Length = length;
        ViewedSnapshot = view is null ? null : ToInfo(view);
        Options = options;
        _geometry = new Geometry(header);
        int l2Tables = (int)Math.Clamp(options.L2CacheBytes / header.ClusterSize, 16, int.MaxValue);
        _map = new ClusterMap(file, _geometry, l1, dataFile is not null, new BoundedCache<L2Table>(l2Tables, t => !t.Dirty));
        _decompressed = new DecompressedClusterCache(options.DecompressedCacheBytes, header.ClusterSize);
    }

    public string Path { get; }
    public Qcow2Header Header { get; private set; }
    public HeaderExtensions Extensions { get; }
    public Qcow2OpenOptions Options { get; }

    /// <summary>The image's encryption (null for a plain image); its cipher is null when opened without password.</summary>
    public ImageEncryption? Encryption { get; }

    /// <summary>Whether this image or an opened image of its backing chain is encrypted.</summary>
    public bool EncryptedChain => Encryption is not null || _backing is Qcow2Image { EncryptedChain: true };

    /// <summary>The backing file name as stored in the image (not resolved).</summary>
    public string? BackingFile { get; }
    public string? BackingFormat => Extensions.BackingFormat;

    /// <summary>The opened backing disk, or null (none, or <see cref="Qcow2OpenOptions.IgnoreBacking"/>).</summary>
    public IVirtualDisk? Backing => _backing;

    /// <summary>The external data file name as stored in the image.</summary>
    public string? DataFile => Extensions.ExternalDataFile;

    /// <summary>Every host file this image reads: itself, its external data file, and its backing chain's files.</summary>
    public IEnumerable<string> HostFiles
    {
        get
        {
            yield return Path;
            if (!ReferenceEquals(_dataFile, _file))
            {
                yield return _dataFile.Path;
            }

            switch (_backing)
            {
                case Qcow2Image image:
                    foreach (string file in image.HostFiles)
                    {
                        yield return file;
                    }

                    break;
                case Backing.RawDisk raw:
                    yield return raw.Path;
                    break;
            }
        }
    }


    /// <summary>The snapshot this instance presents, or null for the active layer.</summary>
    public SnapshotInfo? ViewedSnapshot { get; }

    public long Length { get; private set; }
    public int ClusterSize => _geometry.ClusterSize;

    /// <summary>What a writable open of a dirty image repaired (null when the image was clean).</summary>
    public Check.CheckResult? DirtyRepair { get; private set; }

    /// <summary>Bytes the image file takes on the host.</summary>
    public long FileLength => _file.Length;

    private Qcow2Exception ReadOnlyError() => new(Qcow2ErrorCode.ReadOnly,
        ViewedSnapshot is null ? $"{Path}: image is opened read-only" : $"{Path}: snapshot '{ViewedSnapshot.Name}' is read-only");

    public void Dispose()
    {
        if (_disposed)
        {
            return;
        }

        _disposed = true;
        try
        {
            if (CanWrite)
            {
                CloseWritable();
            }
        }
        finally
        {
            CloseFiles();
            _decompressed.Dispose();
            Encryption?.Dispose();
        }
    }

    private void CloseFiles()
    {
        _backing?.Dispose();
        if (!ReferenceEquals(_dataFile, _file))
        {
            _dataFile.Dispose();
        }

        _file.Dispose();
    }
}
