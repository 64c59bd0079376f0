using System.Buffers.Binary;

namespace Qcow2Mount.Qcow2.Format;

/// <summary>
/// The fixed part of a qcow2 header (72 bytes in v2; 104 or more in v3, with compression_type at 104).
/// All fields are big-endian. Bytes past the fields this engine knows are kept in <see cref="TrailingBytes"/>
/// so that rewriting the header preserves them.
/// </summary>
public sealed record Qcow2Header
{
    public const uint Magic = 0x514649FB; // "QFI\xfb"
    public const int V2Size = 72;
    public const int V3MinSize = 104;
    public const int MinClusterBits = 9;
    public const int MaxClusterBits = 21;

    /// <summary>The largest virtual size accepted (QEMU's limit is lower; this keeps guest offsets far from overflow).</summary>
    public const ulong MaxVirtualSize = 1UL << 62;

    // Field offsets, named after the spec.
    private const int OffMagic = 0, OffVersion = 4, OffBackingFileOffset = 8, OffBackingFileSize = 16,
        OffClusterBits = 20, OffSize = 24, OffCryptMethod = 32, OffL1Size = 36, OffL1TableOffset = 40,
        OffRefcountTableOffset = 48, OffRefcountTableClusters = 56, OffNbSnapshots = 60, OffSnapshotsOffset = 64,
        OffIncompatible = 72, OffCompatible = 80, OffAutoclear = 88, OffRefcountOrder = 96, OffHeaderLength = 100,
        OffCompressionType = 104;

    public uint Version { get; init; }
    public ulong BackingFileOffset { get; init; }
    public uint BackingFileSize { get; init; }
    public int ClusterBits { get; init; }
    public ulong Size { get; init; }
    public CryptMethod CryptMethod { get; init; }
    public uint L1Size { get; init; }
    public ulong L1TableOffset { get; init; }
    public ulong RefcountTableOffset { get; init; }
    public uint RefcountTableClusters { get; init; }
    public uint SnapshotCount { get; init; }
    public ulong SnapshotsOffset { get; init; }
    public IncompatibleFeatures IncompatibleFeatures { get; init; }
    public CompatibleFeatures CompatibleFeatures { get; init; }
    public AutoclearFeatures AutoclearFeatures { get; init; }
    public int RefcountOrder { get; init; } = 4;
    public uint HeaderLength { get; init; } = V2Size;
    public CompressionType CompressionType { get; init; }

    /// <summary>Header bytes past the known fields (v3, header_length larger than this engine's layout).</summary>
    public ReadOnlyMemory<byte> TrailingBytes { get; init; }

    public int ClusterSize => 1 << ClusterBits;
    public bool HasExtendedL2 => (IncompatibleFeatures & IncompatibleFeatures.ExtendedL2) != 0;
    public bool HasExternalDataFile => (IncompatibleFeatures & IncompatibleFeatures.ExternalDataFile) != 0;
    public bool IsDirty => (IncompatibleFeatures & IncompatibleFeatures.Dirty) != 0;
    public bool IsCorrupt => (IncompatibleFeatures & IncompatibleFeatures.Corrupt) != 0;
    public bool HasLazyRefcounts => (CompatibleFeatures & CompatibleFeatures.LazyRefcounts) != 0;
    public bool HasRawExternalData => (AutoclearFeatures & AutoclearFeatures.RawExternalData) != 0;
    public int RefcountBits => 1 << RefcountOrder;

    /// <summary>Bytes of one L2 entry: 8, or 16 with extended L2 (entry + subcluster bitmap).</summary>
    public int L2EntrySize => HasExtendedL2 ? 16 : 8;
    public int L2EntryCount => ClusterSize / L2EntrySize;

    /// <summary>Where header extensions start: right after the header (v2: 72, v3: header_length).</summary>
    public int ExtensionsOffset => Version >= 3 ? (int)HeaderLength : V2Size;

    /// <summary>Size of the known fields this engine writes (v2: 72; v3: 104, or 112 with compression type).</summary>
    private int KnownFieldsLength => Version < 3 ? V2Size : HeaderLength >= OffCompressionType + 1 ? OffCompressionType + 1 : V3MinSize;

    /// <summary>True when <paramref name="start"/> begins with the qcow2 magic.</summary>
    public static bool HasMagic(ReadOnlySpan<byte> start) =>
        start.Length >= 4 && BinaryPrimitives.ReadUInt32BigEndian(start[OffMagic..]) == Magic;

    /// <summary>
    /// The cluster size named by the first <see cref="V2Size"/> bytes of a file, which says how much of cluster 0
    /// (header, extensions, backing name) to read before parsing it all; checks the magic and cluster_bits on the way.
    /// </summary>
    public static int PeekClusterSize(ReadOnlySpan<byte> start)
    {
        if (start.Length < V2Size)
        {
            throw new Qcow2Exception(Qcow2ErrorCode.NotQcow2, "not a qcow2 image (file too short)");
        }

        if (!HasMagic(start))
        {
            throw new Qcow2Exception(Qcow2ErrorCode.NotQcow2, "not a qcow2 image (bad magic)");
        }

        uint clusterBits = BinaryPrimitives.ReadUInt32BigEndian(start[OffClusterBits..]);
        if (clusterBits is < MinClusterBits or > MaxClusterBits)
        {
            throw new Qcow2Exception(Qcow2ErrorCode.InvalidHeader,
                $"invalid cluster_bits {clusterBits} (must be {MinClusterBits}..{MaxClusterBits})");
        }

        return 1 << (int)clusterBits;
    }

    /// <summary>Reads the header; validates only what is needed to read further (magic, version, lengths).</summary>
    public static Qcow2Header Parse(ReadOnlySpan<byte> data)
    {
        if (data.Length < V2Size || BinaryPrimitives.ReadUInt32BigEndian(data[OffMagic..]) != Magic)
        {
            throw new Qcow2Exception(Qcow2ErrorCode.NotQcow2, "not a qcow2 image (bad magic or file too short)");
        }

        uint version = BinaryPrimitives.ReadUInt32BigEndian(data[OffVersion..]);
        if (version is not (2 or 3))
        {
            throw new Qcow2Exception(Qcow2ErrorCode.Unsupported, $"unsupported qcow2 version {version}");
        }

        var header = new Qcow2Header
        {
            Version = version,
            BackingFileOffset = BinaryPrimitives.ReadUInt64BigEndian(data[OffBackingFileOffset..]),
            BackingFileSize = BinaryPrimitives.ReadUInt32BigEndian(data[OffBackingFileSize..]),
            ClusterBits = (int)Math.Min(BinaryPrimitives.ReadUInt32BigEndian(data[OffClusterBits..]), 64),
            Size = BinaryPrimitives.ReadUInt64BigEndian(data[OffSize..]),
            CryptMethod = (CryptMethod)BinaryPrimitives.ReadUInt32BigEndian(data[OffCryptMethod..]),
            L1Size = BinaryPrimitives.ReadUInt32BigEndian(data[OffL1Size..]),
            L1TableOffset = BinaryPrimitives.ReadUInt64BigEndian(data[OffL1TableOffset..]),
            RefcountTableOffset = BinaryPrimitives.ReadUInt64BigEndian(data[OffRefcountTableOffset..]),
            RefcountTableClusters = BinaryPrimitives.ReadUInt32BigEndian(data[OffRefcountTableClusters..]),
            SnapshotCount = BinaryPrimitives.ReadUInt32BigEndian(data[OffNbSnapshots..]),
            SnapshotsOffset = BinaryPrimitives.ReadUInt64BigEndian(data[OffSnapshotsOffset..]),
        };
        if (version == 2)
        {
            return header;
        }

        if (data.Length < V3MinSize)
        {
            throw new Qcow2Exception(Qcow2ErrorCode.InvalidHeader, "qcow2 v3 header is truncated");
        }

        uint headerLength = BinaryPrimitives.ReadUInt32BigEndian(data[OffHeaderLength..]);
        if (headerLength < V3MinSize || headerLength % 8 != 0)
        {
            throw new Qcow2Exception(Qcow2ErrorCode.InvalidHeader,
                $"invalid header_length {headerLength} (must be at least 104 and a multiple of 8)");
        }

        if (headerLength > data.Length)
        {
            throw new Qcow2Exception(Qcow2ErrorCode.InvalidHeader,
                $"header_length {headerLength} runs past the first cluster or the end of the file");
        }

        uint refcountOrder = BinaryPrimitives.ReadUInt32BigEndian(data[OffRefcountOrder..]);
        var known = headerLength > OffCompressionType ? OffCompressionType + 1 : V3MinSize;
        return header with
        {
            IncompatibleFeatures = (IncompatibleFeatures)BinaryPrimitives.ReadUInt64BigEndian(data[OffIncompatible..]),
            CompatibleFeatures = (CompatibleFeatures)BinaryPrimitives.ReadUInt64BigEndian(data[OffCompatible..]),
            AutoclearFeatures = (AutoclearFeatures)BinaryPrimitives.ReadUInt64BigEndian(data[OffAutoclear..]),
            RefcountOrder = (int)Math.Min(refcountOrder, 64),
            HeaderLength = headerLength,
            CompressionType = headerLength > OffCompressionType ? (CompressionType)data[OffCompressionType] : CompressionType.Deflate,
            TrailingBytes = data[known..(int)headerLength].ToArray(),
        };
    }

    /// <summary>Checks every field against the spec's limits and against the host file's length.</summary>
    public void Validate(long fileLength)
    {
        if (ClusterBits is < MinClusterBits or > MaxClusterBits)
        {
            Fail($"invalid cluster_bits {ClusterBits} (must be {MinClusterBits}..{MaxClusterBits})");
        }

        if (HasExtendedL2 && ClusterBits < 14)
        {
            Fail($"extended L2 entries need clusters of at least 16 KiB (cluster_bits {ClusterBits})");
        }

        if (RefcountOrder > 6)
        {
            Fail($"invalid refcount_order {RefcountOrder} (must be 0..6)");
        }

        if (Version == 2 && RefcountOrder != 4)
        {
            Fail("qcow2 v2 images must have 16-bit refcounts");
        }

        if (HeaderLength > ClusterSize)
        {
            Fail($"header_length {HeaderLength} is larger than a cluster");
        }

        if (Size > MaxVirtualSize)
        {
            Fail($"virtual size {Size} is too large");
        }

        if (Version >= 3 && (CompressionType != CompressionType.Deflate) != ((IncompatibleFeatures & IncompatibleFeatures.CompressionType) != 0))
        {
            Fail("compression_type and the compression-type feature bit disagree");
        }

        if (CryptMethod > CryptMethod.Luks)
        {
            Fail($"invalid crypt_method {(uint)CryptMethod} (must be 0, 1 or 2)");
        }

        if (CompressionType > CompressionType.Zstd)
        {
            throw new Qcow2Exception(Qcow2ErrorCode.Unsupported, $"unknown compression type {(byte)CompressionType}");
        }

        if (BackingFileOffset != 0)
        {
            if (BackingFileSize > 1023)
            {
                Fail($"backing file name is too long ({BackingFileSize} bytes, at most 1023)");
            }

            // Offset first: the sum of a huge offset and the size can wrap around 2^64.
            if (BackingFileOffset > (ulong)ClusterSize || BackingFileOffset + BackingFileSize > (ulong)ClusterSize)
            {
                Fail("backing file name lies outside the first cluster");
            }
        }

        // L1: entries cover the virtual size; table at most 32 MiB (QEMU's limit), aligned, inside the file.
        ulong bytesPerL1Entry = (ulong)L2EntryCount * (ulong)ClusterSize;
        ulong neededL1 = (Size + bytesPerL1Entry - 1) / bytesPerL1Entry;
        if (L1Size > (32u << 20) / 8)
        {
            Fail($"L1 table is too large ({L1Size} entries)");
        }

        if (L1Size < neededL1)
        {
            Fail($"L1 table has {L1Size} entries, too few for the virtual size ({neededL1} needed)");
        }

        CheckTable("L1 table", L1TableOffset, (ulong)L1Size * 8, fileLength, allowEmpty: L1Size == 0);

        if (RefcountTableClusters == 0)
        {
            Fail("refcount table has no clusters");
        }

        if ((ulong)RefcountTableClusters * (ulong)ClusterSize > 8UL << 20)
        {
            Fail($"refcount table is too large ({RefcountTableClusters} clusters)");
        }

        CheckTable("refcount table", RefcountTableOffset, (ulong)RefcountTableClusters * (ulong)ClusterSize, fileLength, allowEmpty: false);

        if (SnapshotCount > 65536)
        {
            Fail($"too many snapshots ({SnapshotCount}, at most 65536)");
        }

        if (SnapshotCount > 0)
        {
            CheckTable("snapshot table", SnapshotsOffset, (ulong)SnapshotCount * 40, fileLength, allowEmpty: false);
        }
    }

    /// <summary>
    /// A table that is misaligned, overlaps the header or lies past EOF is corruption (the metadata points somewhere
    /// impossible), unlike a field out of its range, which is an invalid header.
    /// </summary>
    private void CheckTable(string name, ulong offset, ulong length, long fileLength, bool allowEmpty)
    {
        if (allowEmpty && length == 0)
        {
            return;
        }

        if (offset % (ulong)ClusterSize != 0)
        {
            Corrupt($"{name} offset 0x{offset:x} is not cluster aligned");
        }

        if (offset == 0)
        {
            Corrupt($"{name} overlaps the header");
        }

        if (offset >= (1UL << 56) || offset + length > (ulong)fileLength)
        {
            Corrupt($"{name} at 0x{offset:x} (+{length} bytes) lies past the end of the file");
        }
    }

    private static void Fail(string message) => throw new Qcow2Exception(Qcow2ErrorCode.InvalidHeader, message);

    private static void Corrupt(string message) => throw new Qcow2Exception(Qcow2ErrorCode.Corrupt, message);

    /// <summary>Writes the fixed header (and kept trailing bytes) into <paramref name="destination"/>.</summary>
    public void WriteTo(Span<byte> destination)
    {
        int length = Version >= 3 ? (int)HeaderLength : V2Size;
        destination[..length].Clear();
        BinaryPrimitives.WriteUInt32BigEndian(destination[OffMagic..], Magic);
        BinaryPrimitives.WriteUInt32BigEndian(destination[OffVersion..], Version);
        BinaryPrimitives.WriteUInt64BigEndian(destination[OffBackingFileOffset..], BackingFileOffset);
        BinaryPrimitives.WriteUInt32BigEndian(destination[OffBackingFileSize..], BackingFileSize);
        BinaryPrimitives.WriteUInt32BigEndian(destination[OffClusterBits..], (uint)ClusterBits);
        BinaryPrimitives.WriteUInt64BigEndian(destination[OffSize..], Size);
        BinaryPrimitives.WriteUInt32BigEndian(destination[OffCryptMethod..], (uint)CryptMethod);
        BinaryPrimitives.WriteUInt32BigEndian(destination[OffL1Size..], L1Size);
        BinaryPrimitives.WriteUInt64BigEndian(destination[OffL1TableOffset..], L1TableOffset);
        BinaryPrimitives.WriteUInt64BigEndian(destination[OffRefcountTableOffset..], RefcountTableOffset);
        BinaryPrimitives.WriteUInt32BigEndian(destination[OffRefcountTableClusters..], RefcountTableClusters);
        BinaryPrimitives.WriteUInt32BigEndian(destination[OffNbSnapshots..], SnapshotCount);
        BinaryPrimitives.WriteUInt64BigEndian(destination[OffSnapshotsOffset..], SnapshotsOffset);
        if (Version < 3)
        {
            return;
        }

        BinaryPrimitives.WriteUInt64BigEndian(destination[OffIncompatible..], (ulong)IncompatibleFeatures);
        BinaryPrimitives.WriteUInt64BigEndian(destination[OffCompatible..], (ulong)CompatibleFeatures);
        BinaryPrimitives.WriteUInt64BigEndian(destination[OffAutoclear..], (ulong)AutoclearFeatures);
        BinaryPrimitives.WriteUInt32BigEndian(destination[OffRefcountOrder..], (uint)RefcountOrder);
        BinaryPrimitives.WriteUInt32BigEndian(destination[OffHeaderLength..], HeaderLength);
        if (HeaderLength > OffCompressionType)
        {
            destination[OffCompressionType] = (byte)CompressionType;
        }

        TrailingBytes.Span[..Math.Min(TrailingBytes.Length, length - KnownFieldsLength)].CopyTo(destination[KnownFieldsLength..]);
    }
}
