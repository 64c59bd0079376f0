using System.Numerics;
using System.Text;
using Qcow2Mount.Qcow2.Format;
using Qcow2Mount.Qcow2.Refcounts;
using Qcow2Mount.Qcow2.Storage;

namespace Qcow2Mount.Qcow2.Create;

/// <summary>
/// Writes a new, empty qcow2 image laid out like qemu-img 7.2 lays it out: header and extensions in cluster 0,
/// then the refcount table, the refcount blocks covering all metadata, and the L1 table; with a raw external data
/// file also every L2 table (QEMU preallocates metadata there, mapping guest offset N to data-file offset N).
/// Every metadata cluster has refcount 1 and nothing else is counted, so <c>qemu-img check</c> finds it clean.
/// </summary>
public static class ImageCreator
{
    public const int MinClusterSize = 512;
    public const int MaxClusterSize = 2 * 1024 * 1024;

    private const int MaxBackingNameBytes = 1023;
    private const long MaxL1Bytes = 32L << 20;
    private const long MaxRefcountTableBytes = 8L << 20;

    // QEMU omits the feature-name table for clusters of 4 KiB and less (it would crowd out the backing name).
    private const int MinClusterSizeForFeatureTable = 8192;

    private static readonly FeatureName[] s_featureNames =
    [
        new(FeatureKind.Incompatible, 0, "dirty bit"),
        new(FeatureKind.Incompatible, 1, "corrupt bit"),
        new(FeatureKind.Incompatible, 2, "external data file"),
        new(FeatureKind.Incompatible, 3, "compression type"),
        new(FeatureKind.Incompatible, 4, "extended L2 entries"),
        new(FeatureKind.Compatible, 0, "lazy refcounts"),
        new(FeatureKind.Autoclear, 0, "bitmaps"),
        new(FeatureKind.Autoclear, 1, "raw external data"),
    ];

    /// <summary>
    /// Checks <paramref name="options"/> as <see cref="Create"/> would, without touching <paramref name="path"/>: a
    /// caller that replaces an existing file validates first, so bad options never cost the old file.
    /// </summary>
    /// <exception cref="Qcow2Exception">InvalidArgument for bad options.</exception>
    public static void Validate(string path, CreateOptions options)
    {
        ArgumentNullException.ThrowIfNull(path);
        ArgumentNullException.ThrowIfNull(options);
        _ = Plan(path, options);
    }

    /// <summary>Creates the image at <paramref name="path"/> (and its data file, if any).</summary>
    /// <exception cref="Qcow2Exception">InvalidArgument for bad options or an existing file without Overwrite.</exception>
    public static void Create(string path, CreateOptions options)
    {
        ArgumentNullException.ThrowIfNull(path);
        ArgumentNullException.ThrowIfNull(options);
        var plan = Plan(path, options);
        string? dataPath = options.DataFile is null ? null : Backing.BackingPath.Resolve(path, options.DataFile);
        RefuseExisting(path, options.Overwrite);
        if (dataPath is not null)
        {
            RefuseExisting(dataPath, options.Overwrite);
        }

        if (dataPath is not null)
        {
            // QEMU sizes the data file to the guest (raw: to the end of the last preallocated (sub)cluster).
            using var data = HostFile.Create(dataPath);
            data.SetLength(plan.DataFileLength);
            data.Flush();
        }

        using var file = HostFile.Create(path);
        try
        {
            WriteImage(file, plan);
        }
        catch
        {
            file.Dispose();
            TryDelete(path);
            throw;
        }
    }

    private static void RefuseExisting(string path, bool overwrite)
    {
        if (!overwrite && (File.Exists(path) || Directory.Exists(path)))
        {
            throw Invalid($"{path} already exists (set Overwrite to replace it)");
        }
    }

    private static void TryDelete(string path)
    {
        try
        {
            File.Delete(path);
        }
        catch (IOException)
        {
        }
        catch (UnauthorizedAccessException)
        {
        }
    }

    /// <summary>Everything decided before a byte is written: the header, cluster 0 and where each table goes.</summary>
    private sealed record Layout(
        Qcow2Header Header,
        byte[] Cluster0,
        long RefcountTableOffset,
        int RefcountTableClusters,
        long RefcountBlocksOffset,
        int RefcountBlocks,
        long L1Offset,
        int L1Clusters,
        long L2Offset,
        int L2Tables,
        long DataFileLength);

    private static Layout Plan(string path, CreateOptions o)
    {
        int version = o.Compat switch
        {
            "1.1" or "v3" => 3,
            "0.10" or "v2" => 2,
            _ => throw Invalid($"invalid compat '{o.Compat}' (use \"0.10\" or \"1.1\")"),
        };
        if (o.ClusterSize is < MinClusterSize or > MaxClusterSize || !BitOperations.IsPow2(o.ClusterSize))
        {
            throw Invalid($"cluster size {o.ClusterSize} must be a power of two between {MinClusterSize} and {MaxClusterSize}");
        }

        if (o.RefcountBits is < 1 or > 64 || !BitOperations.IsPow2(o.RefcountBits))
        {
            throw Invalid($"refcount width {o.RefcountBits} must be a power of two between 1 and 64");
        }

        if (version == 2 && o.RefcountBits != 16)
        {
            throw Invalid("refcount widths other than 16 bits need compat 1.1");
        }

        if (version == 2 && o.LazyRefcounts)
        {
            throw Invalid("lazy refcounts need compat 1.1");
        }

        if (o.ExtendedL2 && version == 2)
        {
            throw Invalid("extended L2 entries need compat 1.1");
        }

        if (o.ExtendedL2 && o.ClusterSize < 16384)
        {
            throw Invalid($"extended L2 entries need clusters of at least 16384 bytes (cluster size {o.ClusterSize})");
        }

        if (!Enum.IsDefined(o.CompressionType))
        {
            throw Invalid($"unknown compression type {(byte)o.CompressionType}");
        }

        if (o.CompressionType != CompressionType.Deflate && version == 2)
        {
            throw Invalid("compression type zstd needs compat 1.1");
        }

        if (o.BackingFormat is not null && o.BackingFile is null)
        {
            throw Invalid("a backing format needs a backing file");
        }

        if (o.BackingFile is { Length: 0 })
        {
            throw Invalid("the backing file name is empty");
        }

        if (o.DataFile is not null && version == 2)
        {
            throw Invalid("external data files need compat 1.1");
        }

        if (o.DataFile is { Length: 0 })
        {
            throw Invalid("the data file name is empty");
        }

        if (o.DataFileRaw && o.DataFile is null)
        {
            throw Invalid("a raw data file needs a data file");
        }

        if (o.DataFileRaw && o.BackingFile is not null)
        {
            throw Invalid("a backing file and a raw data file cannot be used together");
        }

        if (o.Preallocation is not ("off" or "none"))
        {
            throw Invalid($"preallocation '{o.Preallocation}' is not supported (only \"off\")");
        }

        long size = ResolveSize(path, o);
        int clusterBits = BitOperations.Log2((uint)o.ClusterSize);
        int cs = o.ClusterSize;
        int l2EntrySize = o.ExtendedL2 ? 16 : 8;
        long l2Span = (long)(cs / l2EntrySize) * cs;
        long l1Entries = (size + l2Span - 1) / l2Span;
        if (l1Entries * 8 > MaxL1Bytes)
        {
            throw Invalid($"virtual size {size} is too large for {cs}-byte clusters (the L1 table would exceed 32 MiB)");
        }

        var incompatible = IncompatibleFeatures.None;
        if (o.DataFile is not null)
        {
            incompatible |= IncompatibleFeatures.ExternalDataFile;
        }

        if (o.CompressionType != CompressionType.Deflate)
        {
            incompatible |= IncompatibleFeatures.CompressionType;
        }

        if (o.ExtendedL2)
        {
            incompatible |= IncompatibleFeatures.ExtendedL2;
        }

        var header = new Qcow2Header
        {
            Version = (uint)version,
            ClusterBits = clusterBits,
            Size = (ulong)size,
            L1Size = (uint)l1Entries,
            IncompatibleFeatures = incompatible,
            CompatibleFeatures = o.LazyRefcounts ? CompatibleFeatures.LazyRefcounts : CompatibleFeatures.None,
            AutoclearFeatures = o.DataFileRaw ? AutoclearFeatures.RawExternalData : AutoclearFeatures.None,
            RefcountOrder = BitOperations.Log2((uint)o.RefcountBits),
            // QEMU 7.2 always writes the compression type field and pads the header to 112 bytes.
            HeaderLength = version == 3 ? 112u : Qcow2Header.V2Size,
            CompressionType = o.CompressionType,
            TrailingBytes = version == 3 ? new byte[112 - 105] : [],
        };

        int l1Clusters = (int)((l1Entries * 8 + cs - 1) / cs);
        int l2Tables = o.DataFileRaw ? (int)l1Entries : 0;
        int perBlock = RefcountEntries.PerBlock(clusterBits, header.RefcountOrder);

        // The refcount blocks count themselves and the table: grow both until they cover every metadata cluster.
        int tableClusters = 1, blocks = 1;
        while (true)
        {
            long clusters = 1L + tableClusters + blocks + l1Clusters + l2Tables;
            int neededBlocks = (int)((clusters + perBlock - 1) / perBlock);
            int neededTable = (int)(((long)neededBlocks * 8 + cs - 1) / cs);
            if (neededBlocks <= blocks && neededTable <= tableClusters)
            {
                break;
            }

            blocks = Math.Max(blocks, neededBlocks);
            tableClusters = Math.Max(tableClusters, neededTable);
        }

        if ((long)tableClusters * cs > MaxRefcountTableBytes)
        {
            throw Invalid("the refcount table would exceed 8 MiB; use larger clusters or wider refcounts");
        }

        long tableOffset = cs;
        long blocksOffset = tableOffset + (long)tableClusters * cs;
        long l1Offset = blocksOffset + (long)blocks * cs;
        long l2Offset = l1Offset + (long)l1Clusters * cs;
        header = header with
        {
            RefcountTableOffset = (ulong)tableOffset,
            RefcountTableClusters = (uint)tableClusters,
            L1TableOffset = l1Entries == 0 ? 0 : (ulong)l1Offset,
        };

        var cluster0 = BuildCluster0(ref header, o);
        long dataLength = size;
        if (o.DataFileRaw)
        {
            long unit = o.ExtendedL2 ? cs / 32 : cs;
            dataLength = (size + unit - 1) / unit * unit;
        }

        return new Layout(header, cluster0, tableOffset, tableClusters, blocksOffset, blocks, l1Offset, l1Clusters, l2Offset,
            l2Tables, dataLength);
    }

    private static long ResolveSize(string path, CreateOptions o)
    {
        long size;
        if (o.Size is { } given)
        {
            if (given < 0)
            {
                throw Invalid($"negative size {given}");
            }

            size = given;
        }
        else if (o.BackingFile is not null)
        {
            string backingPath = Backing.BackingPath.Resolve(path, o.BackingFile);
            if (!File.Exists(backingPath))
            {
                throw new Qcow2Exception(Qcow2ErrorCode.MissingFile, $"backing file {backingPath} not found; give a size to create the image without opening it");
            }

            // Only its size is needed: its own backing files need not open, nor an encrypted one its password.
            using var backing = VirtualDisk.Open(backingPath, o.BackingFormat, new Qcow2OpenOptions { MetadataOnly = true, IgnoreBacking = true });
            size = backing.Length;
        }
        else
        {
            throw Invalid("a size is needed when there is no backing file");
        }

        if (size > (1L << 62) - 512)
        {
            throw Invalid($"virtual size {size} is too large");
        }

        return (size + 511) & ~511L;
    }

    /// <summary>
    /// Header, then extensions in QEMU's order (backing format, data file, feature names, end), then the backing
    /// file name right after the end marker.
    /// </summary>
    private static byte[] BuildCluster0(ref Qcow2Header header, CreateOptions o)
    {
        int cs = header.ClusterSize;
        var extensions = new List<(uint Type, byte[] Data)>();
        if (o.BackingFormat is not null)
        {
            extensions.Add(((uint)HeaderExtensionType.BackingFormat, Encoding.UTF8.GetBytes(o.BackingFormat)));
        }

        if (o.DataFile is not null)
        {
            extensions.Add(((uint)HeaderExtensionType.ExternalDataFile, Encoding.UTF8.GetBytes(o.DataFile)));
        }

        if (header.Version >= 3 && cs >= MinClusterSizeForFeatureTable)
        {
            var table = new byte[s_featureNames.Length * FeatureName.Size];
            for (int i = 0; i < s_featureNames.Length; i++)
            {
                s_featureNames[i].WriteTo(table.AsSpan(i * FeatureName.Size, FeatureName.Size));
            }

            extensions.Add(((uint)HeaderExtensionType.FeatureNameTable, table));
        }

        byte[]? backingName = o.BackingFile is null ? null : Encoding.UTF8.GetBytes(o.BackingFile);
        if (backingName is { Length: > MaxBackingNameBytes })
        {
            throw Invalid($"backing file name is too long ({backingName.Length} bytes, at most {MaxBackingNameBytes})");
        }

        int used = header.ExtensionsOffset + extensions.Sum(e => new HeaderExtension(e.Type, e.Data).StoredSize) + 8 + (backingName?.Length ?? 0);
        if (used > cs)
        {
            throw Invalid($"the header, its extensions and the backing file name ({used} bytes) do not fit in one {cs}-byte cluster");
        }

        var cluster0 = new byte[cs];
        int pos = header.ExtensionsOffset;
        foreach (var (type, data) in extensions)
        {
            pos += new HeaderExtension(type, data).WriteTo(cluster0.AsSpan(pos));
        }

        pos += 8; // end marker: type 0, length 0 (already zero)
        if (backingName is not null)
        {
            backingName.CopyTo(cluster0.AsSpan(pos));
            header = header with { BackingFileOffset = (ulong)pos, BackingFileSize = (uint)backingName.Length };
        }

        header.WriteTo(cluster0);
        return cluster0;
    }

    private static void WriteImage(HostFile file, Layout p)
    {
        int cs = p.Header.ClusterSize;
        long totalClusters = 1L + p.RefcountTableClusters + p.RefcountBlocks + p.L1Clusters + p.L2Tables;
        file.SetLength(totalClusters * cs);

        // Refcount table: one entry per block, blocks laid out back to back.
        var table = new ulong[p.RefcountBlocks];
        for (int i = 0; i < table.Length; i++)
        {
            table[i] = new RefcountTableEntry((ulong)(p.RefcountBlocksOffset + (long)i * cs)).Value;
        }

        file.WriteAt(p.RefcountTableOffset, PointerTable.Encode(table, (long)p.RefcountTableClusters * cs));

        // Refcount blocks: clusters 0 .. totalClusters-1 are all metadata with refcount 1.
        int perBlock = RefcountEntries.PerBlock(p.Header.ClusterBits, p.Header.RefcountOrder);
        var block = new byte[cs];
        for (int b = 0; b < p.RefcountBlocks; b++)
        {
            Array.Clear(block);
            long first = (long)b * perBlock;
            for (long c = first; c < Math.Min(totalClusters, first + perBlock); c++)
            {
                RefcountEntries.Set(block, p.Header.RefcountOrder, (int)(c - first), 1);
            }

            file.WriteAt(p.RefcountBlocksOffset + (long)b * cs, block);
        }

        if (p.L2Tables > 0)
        {
            WriteRawDataFileL2Tables(file, p);
        }

        if (p.L1Clusters > 0)
        {
            var l1 = new ulong[p.L2Tables];
            for (int i = 0; i < l1.Length; i++)
            {
                l1[i] = L1Entry.Copied | (ulong)(p.L2Offset + (long)i * cs);
            }

            file.WriteAt(p.L1Offset, PointerTable.Encode(l1, (long)p.L1Clusters * cs));
        }

        // Tables first, header last: a crash before this point leaves no valid image rather than a broken one.
        file.Flush();
        file.WriteAt(0, p.Cluster0);
        file.Flush();
    }

    /// <summary>
    /// Metadata preallocation for a raw data file, as QEMU does it: every guest cluster maps to the same offset in the
    /// data file, with COPIED set (data-file clusters always have refcount 1). Extended L2 bitmaps stay 0, like QEMU's.
    /// </summary>
    private static void WriteRawDataFileL2Tables(HostFile file, Layout p)
    {
        int cs = p.Header.ClusterSize;
        int entrySize = p.Header.L2EntrySize;
        int perTable = cs / entrySize;
        long guestClusters = (long)((p.Header.Size + (ulong)cs - 1) / (ulong)cs);
        var l2 = new byte[cs];
        for (int t = 0; t < p.L2Tables; t++)
        {
            Array.Clear(l2);
            for (int j = 0; j < perTable; j++)
            {
                long guestCluster = (long)t * perTable + j;
                if (guestCluster >= guestClusters)
                {
                    break;
                }

                PointerTable.WriteEntry(l2, j * entrySize / PointerTable.EntrySize, L2Entry.Copied | (ulong)(guestCluster * cs));
            }

            file.WriteAt(p.L2Offset + (long)t * cs, l2);
        }
    }

    private static Qcow2Exception Invalid(string message) => new(Qcow2ErrorCode.InvalidArgument, message);
}
