using System.Buffers;
using Qcow2Mount.Qcow2.Backing;
using Qcow2Mount.Qcow2.Caching;
using Qcow2Mount.Qcow2.Compression;
using Qcow2Mount.Qcow2.Crypto;
using Qcow2Mount.Qcow2.Format;
using Qcow2Mount.Qcow2.Mapping;
using Qcow2Mount.Qcow2.Snapshots;
using Qcow2Mount.Qcow2.Storage;

namespace Qcow2Mount.Qcow2;

/// <summary>
/// A qcow2 image: opens and validates the header, resolves the backing chain and external data file, and
/// serves the guest view (the active layer, or an internal snapshot read-only).
/// </summary>
public sealed partial class Qcow2Image : IVirtualDisk, IHostMappedDisk
{
    private readonly IHostFile _file;
    private readonly IHostFile _dataFile;
    private readonly IVirtualDisk? _backing;
    private readonly ClusterMap _map;
    private readonly Geometry _geometry;
    private readonly DecompressedClusterCache _decompressed;
    private readonly SectorCipher? _cipher;
    private List<SnapshotEntry> _snapshots;
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

    public IReadOnlyList<SnapshotInfo> Snapshots => _snapshots.Select(ToInfo).ToList();

    /// <summary>The snapshot this instance presents, or null for the active layer.</summary>
    public SnapshotInfo? ViewedSnapshot { get; }

    public long Length { get; private set; }
    public bool CanWrite => _refcounts is not null && !_corruptDetected;
    public int ClusterSize => _geometry.ClusterSize;

    /// <summary>What a writable open of a dirty image repaired (null when the image was clean).</summary>
    public Check.CheckResult? DirtyRepair { get; private set; }

    /// <summary>Bytes the image file takes on the host.</summary>
    public long FileLength => _file.Length;

    /// <summary>Opens a qcow2 image file.</summary>
    public static Qcow2Image Open(string path, Qcow2OpenOptions? options = null) =>
        Open(path, options ?? new Qcow2OpenOptions(), new BackingChainState());

    /// <summary>
    /// Opens an image in QEMU's order: the host file (and its lock), the header, the encryption, the external data
    /// file, a dirty image's repair (writable opens), the snapshot table and the L1 table of the view, the backing
    /// chain; last, a writable open loads its refcounts. Whatever was opened is closed again when a step fails.
    /// </summary>
    internal static Qcow2Image Open(string path, Qcow2OpenOptions options, BackingChainState chain)
    {
        if (options.Writable && options.Snapshot is not null)
        {
            throw new Qcow2Exception(Qcow2ErrorCode.InvalidArgument, $"{path}: snapshot views are read-only");
        }

        chain.Enter(path, options.MaxBackingDepth);
        var file = options.HostFileOpener?.Invoke(path, options.Writable)
            ?? HostFile.Open(path, options.Writable, lockWriter: options.Writable && options.Lock, lockReader: options.HoldReaderLock, forceShare: options.ForceShare);
        IHostFile? dataFile = null;
        IVirtualDisk? backing = null;
        ImageEncryption? encryption = null;
        try
        {
            var read = NameFile(path, () => MetadataReader.ReadHeader(file));
            var header = read.Header;
            encryption = OpenEncryption(path, file, read, options);
            string? backingName = NameFile(path, read.BackingName);
            dataFile = OpenDataFile(path, read, options);
            var repair = options.Writable ? RepairIfDirty(file, ref header) : null;
            var snapshots = SnapshotTable.Read(file, header);
            var (view, l1, length) = ReadView(path, file, header, snapshots, options.Snapshot);
            backing = OpenBacking(path, backingName, read.Extensions.BackingFormat, options, chain);

            var image = new Qcow2Image(path, file, header, read.Extensions, backingName, dataFile, backing, snapshots, l1, length, view, options, encryption)
            {
                DirtyRepair = repair,
            };
            if (options.Writable)
            {
                image.InitWritable();
            }

            return image;
        }
        catch
        {
            encryption?.Dispose();
            backing?.Dispose();
            dataFile?.Dispose();
            file.Dispose();
            throw;
        }
    }

    /// <summary>The image's encryption, unlocked when a password or unlocked keys are given; null for a plain image.</summary>
    private static ImageEncryption? OpenEncryption(string path, IHostFile file, ImageHeader read, Qcow2OpenOptions options)
    {
        var header = read.Header;
        if (header.CryptMethod == CryptMethod.None)
        {
            return null;
        }

        var encryption = NameFile(path, () => ImageEncryption.Open(file, header, read.Extensions, options.Password, options.UnlockedKeys));
        if (encryption.Cipher is null && !options.MetadataOnly)
        {
            encryption.Dispose();
            throw new Qcow2Exception(Qcow2ErrorCode.Password,
                $"{path}: image is encrypted ({(header.CryptMethod == CryptMethod.Luks ? "LUKS" : "legacy AES")}); give its password (--password-file FILE)");
        }

        return encryption;
    }

    /// <summary>
    /// The external data file, through the same opener as the image (unsynced for a conversion's output,
    /// fault-injecting in tests); null when the image keeps its data inside.
    /// </summary>
    private static IHostFile? OpenDataFile(string path, ImageHeader read, Qcow2OpenOptions options)
    {
        var header = read.Header;
        if (!header.HasExternalDataFile)
        {
            return header.HasRawExternalData
                ? throw new Qcow2Exception(Qcow2ErrorCode.InvalidHeader, $"{path}: raw external data bit set without an external data file")
                : null;
        }

        if (string.IsNullOrEmpty(read.Extensions.ExternalDataFile))
        {
            throw new Qcow2Exception(Qcow2ErrorCode.MissingFile, $"{path}: image needs an external data file but names none");
        }

        string dataPath = BackingPath.Resolve(path, read.Extensions.ExternalDataFile);
        return options.HostFileOpener?.Invoke(dataPath, options.Writable)
            ?? HostFile.Open(dataPath, options.Writable, lockReader: options.HoldReaderLock, forceShare: options.ForceShare);
    }

    /// <summary>
    /// A writable open refuses a corrupt image and repairs a dirty one first (lazy refcounts, unclean stop), as
    /// QEMU does; a repair that leaves corruption fails the open. Returns what was repaired, or null.
    /// </summary>
    private static Check.CheckResult? RepairIfDirty(IHostFile file, ref Qcow2Header header)
    {
        if (header.IsCorrupt)
        {
            throw new Qcow2Exception(Qcow2ErrorCode.Corrupt, $"{file.Path}: image is corrupt; cannot be opened read/write (run check --repair all)");
        }

        if (!header.IsDirty)
        {
            return null;
        }

        var result = Check.ImageChecker.Repair(file, Check.RepairMode.All);
        if (result.Corruptions > 0 || result.CheckErrors > 0)
        {
            throw new Qcow2Exception(Qcow2ErrorCode.Corrupt,
                $"{file.Path}: could not repair dirty image ({result.Corruptions} corruptions, {result.CheckErrors} check errors left)");
        }

        header = NameFile(file.Path, () => MetadataReader.ReadHeader(file)).Header;
        return result;
    }

    /// <summary>What this instance presents: the active layer, or the snapshot named <paramref name="wanted"/> (by id, then name).</summary>
    private static (SnapshotEntry? View, ulong[] L1, long Length) ReadView(
        string path, IHostFile file, Qcow2Header header, List<SnapshotEntry> snapshots, string? wanted)
    {
        if (wanted is null)
        {
            return (null, MetadataReader.ReadL1(file, header.L1TableOffset, header.L1Size, header.ClusterSize, "active layer"), (long)header.Size);
        }

        var view = SnapshotTable.Find(snapshots, wanted)
            ?? throw new Qcow2Exception(Qcow2ErrorCode.SnapshotNotFound, $"{path}: no snapshot named '{wanted}'");
        var l1 = MetadataReader.ReadL1(file, view.L1TableOffset, view.L1Size, header.ClusterSize, $"snapshot '{view.Name}'");
        return (view, l1, SnapshotLength(path, header, view));
    }

    /// <summary>The backing disk (read-only, the active layer), or null without one or with <see cref="Qcow2OpenOptions.IgnoreBacking"/>.</summary>
    private static IVirtualDisk? OpenBacking(string path, string? backingName, string? backingFormat, Qcow2OpenOptions options, BackingChainState chain)
    {
        if (backingName is null || options.IgnoreBacking)
        {
            return null;
        }

        string backingPath = BackingPath.Resolve(path, backingName);
        if (!File.Exists(backingPath))
        {
            throw new Qcow2Exception(Qcow2ErrorCode.MissingFile, $"{path}: backing file {backingPath} not found");
        }

        return VirtualDisk.Open(backingPath, backingFormat, options with { Snapshot = null, Writable = false }, chain);
    }

    /// <inheritdoc/>
    public int ReadAt(long offset, Span<byte> buffer)
    {
        ObjectDisposedException.ThrowIf(_disposed, this);
        if (offset < 0)
        {
            throw new Qcow2Exception(Qcow2ErrorCode.InvalidArgument, $"{Path}: negative offset {offset}");
        }

        if (offset >= Length)
        {
            return 0;
        }

        int total = (int)Math.Min(buffer.Length, Length - offset);
        var remaining = buffer[..total];
        long guest = offset;
        while (!remaining.IsEmpty)
        {
            var extent = _map.Lookup(guest, remaining.Length);
            var part = remaining[..extent.Length];
            switch (extent.Kind)
            {
                case ClusterKind.Normal when Encryption is not null:
                    ReadEncrypted(extent.HostOffset, guest, part);
                    break;
                case ClusterKind.Normal:
                    ReadHost(extent.HostOffset, part);
                    break;
                case ClusterKind.Zero:
                    part.Clear();
                    break;
                case ClusterKind.Unallocated:
                    ReadBacking(guest, part);
                    break;
                case ClusterKind.Compressed:
                    ReadCompressed(extent.Compressed, (int)_geometry.OffsetInCluster(guest), part);
                    break;
                default:
                    throw new Qcow2Exception(Qcow2ErrorCode.Corrupt, $"{Path}: invalid mapping at guest offset 0x{guest:x}");
            }

            guest += extent.Length;
            remaining = remaining[extent.Length..];
        }

        return total;
    }

    /// <inheritdoc/>
    public bool TryMapRead(long offset, int length, Span<HostSegment> segments, out int count)
    {
        count = 0;
        // Encrypted data must pass through the cipher: no host ranges to hand out.
        if (_disposed || Options.Writable || CanWrite || Encryption is not null || offset < 0 || length <= 0 || offset > Length - length)
        {
            return false;
        }

        long guest = offset;
        long end = offset + length;
        while (guest < end)
        {
            var extent = _map.Lookup(guest, (int)(end - guest));
            bool mapped = extent.Kind switch
            {
                // Only bytes inside the host file: past its end QEMU reads zeros, or the image is corrupt, which
                // the copying read path reports.
                ClusterKind.Normal => _dataFile is HostFile host && extent.HostOffset >= 0
                    && extent.HostOffset <= host.Length - extent.Length
                    && HostSegments.Append(segments, ref count, new HostSegment(host.Handle, extent.HostOffset, extent.Length)),
                ClusterKind.Zero => HostSegments.Append(segments, ref count, new HostSegment(null, 0, extent.Length)),
                ClusterKind.Unallocated => MapBacking(guest, extent.Length, segments, ref count),
                _ => false,
            };
            if (!mapped)
            {
                return false;
            }

            guest += extent.Length;
        }

        return true;
    }

    private bool MapBacking(long guest, int length, Span<HostSegment> segments, ref int count)
    {
        long inside = _backing is null ? 0 : Math.Clamp(_backing.Length - guest, 0, length);
        if (inside > 0)
        {
            if (_backing is not IHostMappedDisk backing
                || !backing.TryMapRead(guest, (int)inside, segments[count..], out int added))
            {
                return false;
            }

            HostSegments.MergeAt(segments, ref count, added);
        }

        return inside == length || HostSegments.Append(segments, ref count, new HostSegment(null, 0, (int)(length - inside)));
    }

    /// <summary>
    /// Block status, as qemu-img convert uses it: whether the guest range at <paramref name="offset"/> reads as
    /// zeros by the metadata alone (zero clusters, unallocated with nothing behind), and how far that answer holds
    /// (at most <paramref name="maxLength"/>). Lets a copy skip zero ranges without reading them.
    /// </summary>
    public (bool KnownZero, long Length) GetBlockStatus(long offset, long maxLength)
    {
        ObjectDisposedException.ThrowIf(_disposed, this);
        if (offset < 0 || offset >= Length || maxLength <= 0)
        {
            throw new Qcow2Exception(Qcow2ErrorCode.InvalidArgument, $"{Path}: block status at {offset} (+{maxLength}) lies outside the disk");
        }

        long end = offset + Math.Min(maxLength, Length - offset);
        bool? known = null;
        long guest = offset;
        while (guest < end)
        {
            var extent = _map.Lookup(guest, (int)Math.Min(end - guest, 1 << 30));
            long length = extent.Length;
            bool zero = extent.Kind switch
            {
                ClusterKind.Zero => true,
                ClusterKind.Unallocated when _backing is null => true,
                ClusterKind.Unallocated when _backing is Qcow2Image backing && guest < backing.Length =>
                    BackingStatus(backing, guest, ref length),
                ClusterKind.Unallocated => guest >= _backing!.Length,
                _ => false,
            };
            known ??= zero;
            if (zero != known)
            {
                break;
            }

            guest += length;
        }

        return (known ?? false, guest - offset);
    }

    private static bool BackingStatus(Qcow2Image backing, long guest, ref long length)
    {
        var (zero, n) = backing.GetBlockStatus(guest, length);
        length = n;
        return zero;
    }

    private void ReadHost(long host, Span<byte> destination)
    {
        int n = _dataFile.ReadAt(host, destination);
        if (n < destination.Length)
        {
            if (n == 0 && ReferenceEquals(_dataFile, _file) && host >= _file.Length)
            {
                throw new Qcow2Exception(Qcow2ErrorCode.Corrupt, $"{Path}: data cluster at 0x{host:x} lies past the end of the image");
            }

            // Past the end of a shorter data file (or a partly written last cluster): zeros, as QEMU reads it.
            destination[n..].Clear();
        }
    }

    /// <summary>
    /// Reads and decrypts the whole 512-byte sectors around <paramref name="destination"/>: LUKS counts IVs in host
    /// sectors, legacy AES in guest sectors (the two are aligned alike, clusters being whole sectors).
    /// </summary>
    private void ReadEncrypted(long host, long guest, Span<byte> destination)
    {
        var cipher = _cipher ?? throw new Qcow2Exception(Qcow2ErrorCode.Password, $"{Path}: image is encrypted and was opened without its password");
        const int Sector = SectorCipher.SectorSize;
        int lead = (int)(host % Sector);
        int length = (lead + destination.Length + Sector - 1) / Sector * Sector;
        byte[] buffer = ArrayPool<byte>.Shared.Rent(length);
        try
        {
            var sectors = buffer.AsSpan(0, length);
            ReadHost(host - lead, sectors);
            cipher.Decrypt(((Encryption!.UsesHostSectors ? host : guest) - lead) / Sector, sectors);
            sectors.Slice(lead, destination.Length).CopyTo(destination);
            sectors.Clear();
        }
        finally
        {
            ArrayPool<byte>.Shared.Return(buffer);
        }
    }

    private void ReadBacking(long guest, Span<byte> destination)
    {
        if (_backing is null)
        {
            destination.Clear();
            return;
        }

        int n = _backing.ReadAt(guest, destination);
        destination[n..].Clear();
    }

    private void ReadCompressed(CompressedDescriptor descriptor, int offsetInCluster, Span<byte> destination)
    {
        if (destination.Length == _geometry.ClusterSize)
        {
            // The whole cluster is wanted (convert, large mount reads): inflate straight into the caller's buffer.
            // Caching it would only copy a cluster nobody asks for again soon.
            DecompressInto(descriptor, destination);
            return;
        }

        if (_decompressed.TryRead(descriptor.HostOffset, offsetInCluster, destination, out int cachedLength))
        {
            return;
        }

        // A miss inflates into this thread's scratch cluster. Deflate can stop as soon as the wanted bytes are
        // out, which halves the average cost of a small random read; a second miss on the same cluster (the
        // cached prefix was too short) inflates all of it, so reading a cluster piece by piece costs at most
        // two inflates. zstd decodes whole blocks (a qcow2 cluster is one block), so it always inflates it all.
        int end = offsetInCluster + destination.Length;
        int wanted = Header.CompressionType == CompressionType.Deflate && cachedLength == 0
            ? Math.Min(_geometry.ClusterSize, (end + 4095) & ~4095)
            : _geometry.ClusterSize;
        var scratch = t_scratch is { } buffer && buffer.Length >= _geometry.ClusterSize
            ? buffer
            : t_scratch = GC.AllocateUninitializedArray<byte>(_geometry.ClusterSize);
        DecompressInto(descriptor, scratch.AsSpan(0, wanted), partial: wanted < _geometry.ClusterSize);
        scratch.AsSpan(offsetInCluster, destination.Length).CopyTo(destination);
        _decompressed.Store(descriptor.HostOffset, scratch.AsSpan(0, wanted));
    }

    [ThreadStatic]
    private static byte[]? t_scratch;

    /// <summary>
    /// Inflates the compressed cluster into <paramref name="cluster"/>: all of it, or with <paramref name="partial"/>
    /// only its first <paramref name="cluster"/>.Length bytes.
    /// </summary>
    private void DecompressInto(CompressedDescriptor descriptor, Span<byte> cluster, bool partial = false)
    {
        if (descriptor.HostOffset <= 0 || descriptor.HostOffset >= _file.Length)
        {
            throw new Qcow2Exception(Qcow2ErrorCode.Corrupt,
                $"{Path}: compressed cluster at 0x{descriptor.HostOffset:x} lies outside the image");
        }

        byte[] source = ArrayPool<byte>.Shared.Rent(descriptor.Size);
        try
        {
            int n = _file.ReadAt(descriptor.HostOffset, source.AsSpan(0, descriptor.Size));
            try
            {
                ClusterDecompressor.Decompress(Header.CompressionType, source.AsSpan(0, n), cluster, partial);
            }
            catch (Qcow2Exception e)
            {
                throw new Qcow2Exception(e.Code, $"{Path}: {e.Message} (host offset 0x{descriptor.HostOffset:x})", e);
            }
        }
        finally
        {
            ArrayPool<byte>.Shared.Return(source);
        }
    }

    /// <summary>
    /// The guest size of a snapshot view: its disk_size (the active size when the entry does not record one), which
    /// must be in the header's range and mapped by the snapshot's own L1 table.
    /// </summary>
    private static long SnapshotLength(string path, Qcow2Header header, SnapshotEntry view)
    {
        ulong size = view.DiskSize ?? header.Size;
        var geometry = new Geometry(header);
        if (size > Qcow2Header.MaxVirtualSize || geometry.L1EntriesFor(size) > view.L1Size)
        {
            throw new Qcow2Exception(Qcow2ErrorCode.InvalidHeader,
                $"{path}: snapshot '{view.Name}' has disk size {size}, beyond its L1 table of {view.L1Size} entries or the format's limit");
        }

        return (long)size;
    }

    /// <summary>Runs a parser that knows bytes, not files, and puts the file name in front of its error.</summary>
    private static T NameFile<T>(string path, Func<T> parse)
    {
        try
        {
            return parse();
        }
        catch (Qcow2Exception e)
        {
            throw new Qcow2Exception(e.Code, $"{path}: {e.Message}", e);
        }
    }

    private Qcow2Exception ReadOnlyError() => new(Qcow2ErrorCode.ReadOnly,
        ViewedSnapshot is null ? $"{Path}: image is opened read-only" : $"{Path}: snapshot '{ViewedSnapshot.Name}' is read-only");

    private static SnapshotInfo ToInfo(SnapshotEntry s) =>
        new(s.Id, s.Name, s.VmStateSizeLarge, s.Date, s.VmClockNanoseconds, s.DiskSize, s.Icount);

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
