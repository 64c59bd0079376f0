using System.Text;
using Qcow2Mount.Qcow2.Format;

namespace Qcow2Mount.Qcow2.Storage;

/// <summary>The header, its extensions and cluster 0 as read from an image file.</summary>
/// <param name="Header">The fixed header fields.</param>
/// <param name="Extensions">The header extensions that follow them.</param>
/// <param name="Cluster0">The first cluster (shorter when the file is), where the extensions and the backing name live.</param>
internal sealed record ImageHeader(Qcow2Header Header, HeaderExtensions Extensions, byte[] Cluster0)
{
    /// <summary>The backing file name as stored (not resolved), or null when the image has none.</summary>
    public string? BackingName()
    {
        if (Header.BackingFileOffset == 0)
        {
            return null;
        }

        // Validate keeps the name inside the first cluster; a file shorter than a cluster can still cut it off.
        if (Header.BackingFileOffset + Header.BackingFileSize > (ulong)Cluster0.Length)
        {
            throw new Qcow2Exception(Qcow2ErrorCode.InvalidHeader, "backing file name lies past the end of the file");
        }

        return Encoding.UTF8.GetString(Cluster0.AsSpan((int)Header.BackingFileOffset, (int)Header.BackingFileSize));
    }
}

/// <summary>
/// Reads the image's metadata structures from its host file through the <see cref="Format"/> codecs: the header,
/// L1 tables and the refcount table. Opening, snapshots and check all read them here. Header errors name no file
/// (check reports them as they are, open puts the path in front); L1 errors name the file and the table.
/// </summary>
internal static class MetadataReader
{
    /// <summary>
    /// Reads and validates the header and its extensions, refusing unknown incompatible features (naming them from
    /// the feature-name table, as QEMU does).
    /// </summary>
    public static ImageHeader ReadHeader(IHostFile file)
    {
        Span<byte> start = stackalloc byte[Qcow2Header.V2Size];
        int read = file.ReadAt(0, start);

        // The cluster size tells how much of cluster 0 (extensions, backing name) to read before parsing it all.
        var cluster0 = new byte[(int)Math.Min(Qcow2Header.PeekClusterSize(start[..read]), file.Length)];
        file.ReadAt(0, cluster0);
        var header = Qcow2Header.Parse(cluster0);
        header.Validate(file.Length);
        int extensionsEnd = header.BackingFileOffset != 0 && header.BackingFileOffset > (ulong)header.ExtensionsOffset
            ? (int)Math.Min(header.BackingFileOffset, (ulong)cluster0.Length)
            : cluster0.Length;
        var extensions = HeaderExtensions.Parse(cluster0, header.ExtensionsOffset, extensionsEnd);
        ulong unknown = (ulong)(header.IncompatibleFeatures & ~KnownFeatures.Incompatible);
        if (unknown != 0)
        {
            throw new Qcow2Exception(Qcow2ErrorCode.Unsupported, $"unsupported qcow2 feature(s): {extensions.DescribeIncompatible(unknown)}");
        }

        return new ImageHeader(header, extensions, cluster0);
    }

    /// <summary>
    /// Reads an L1 table the engine is about to map through: it must be of a legal size, cluster aligned and wholly
    /// inside the file (<paramref name="what"/> names it in errors: "active layer", "snapshot 'x'").
    /// </summary>
    public static ulong[] ReadL1(IHostFile file, ulong offset, uint entries, int clusterSize, string what)
    {
        if (L1Entry.CheckTablePlacement(offset, entries, clusterSize, file.Length) is { } problem)
        {
            throw new Qcow2Exception(Qcow2ErrorCode.Corrupt, $"{file.Path}: {what}: {problem}");
        }

        var bytes = new byte[entries * (long)PointerTable.EntrySize];
        if (bytes.Length > 0 && file.ReadAt((long)offset, bytes) != bytes.Length)
        {
            throw new Qcow2Exception(Qcow2ErrorCode.Corrupt, $"{file.Path}: {what}: L1 table is truncated");
        }

        return PointerTable.Decode(bytes);
    }

    /// <summary>
    /// Reads an L1 table the way <c>qemu-img check</c> does: whatever lies past the end of the file reads as zeros
    /// (the refcount comparison reports the table itself). The caller has bounded <paramref name="entries"/>.
    /// </summary>
    public static ulong[] ReadL1ForCheck(IHostFile file, ulong offset, uint entries)
    {
        var bytes = new byte[entries * (long)PointerTable.EntrySize];
        if (offset < (ulong)file.Length)
        {
            file.ReadAt((long)offset, bytes);
        }

        return PointerTable.Decode(bytes);
    }

    /// <summary>Reads the refcount table (raw <see cref="RefcountTableEntry"/> values); the header has placed it inside the file.</summary>
    public static ulong[] ReadRefcountTable(IHostFile file, ulong offset, uint clusters, int clusterBits)
    {
        var bytes = new byte[(long)clusters << clusterBits];
        if (file.ReadAt((long)offset, bytes) != bytes.Length)
        {
            throw new Qcow2Exception(Qcow2ErrorCode.Corrupt, "refcount table is truncated");
        }

        return PointerTable.Decode(bytes);
    }
}
