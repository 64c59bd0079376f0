namespace Qcow2Mount.PowerShell;

/// <summary>
/// One image as Get-Qcow2Image writes it: what <c>qemu-img info</c> (and <c>qcow2mount info</c>) shows, as typed
/// properties. With -BackingChain, one of these per file of the chain, the image first.
/// </summary>
public sealed class Qcow2ImageInfo
{
    /// <summary>The file, as a full path.</summary>
    public required string Path { get; init; }

    /// <summary>"qcow2" or "raw".</summary>
    public required string Format { get; init; }

    /// <summary>The guest size in bytes.</summary>
    public required long VirtualSize { get; init; }

    /// <summary>Bytes the file takes on the host.</summary>
    public required long ActualSize { get; init; }

    public int? ClusterSize { get; init; }

    /// <summary>The backing file as the image names it (often relative), or null.</summary>
    public string? BackingFile { get; init; }

    /// <summary>The backing file as a path (the name combined with the image's folder).</summary>
    public string? FullBackingFile { get; init; }

    public string? BackingFormat { get; init; }

    /// <summary>Position in the backing chain: 0 for the image itself, 1 for its backing file, ...</summary>
    public int Depth { get; init; }

    public bool DirtyFlag { get; init; }

    /// <summary>The qcow2 version: "0.10" (v2) or "1.1" (v3); null for raw.</summary>
    public string? Compat { get; init; }

    /// <summary>"zlib" or "zstd"; null for raw.</summary>
    public string? CompressionType { get; init; }

    public bool? LazyRefcounts { get; init; }

    public int? RefcountBits { get; init; }

    /// <summary>The external data file, or null.</summary>
    public string? DataFile { get; init; }

    public bool? DataFileRaw { get; init; }

    /// <summary>The image's corrupt bit (set by QEMU when it found inconsistent metadata).</summary>
    public bool? Corrupt { get; init; }

    public bool? ExtendedL2 { get; init; }

    public bool Encrypted { get; init; }

    /// <summary>"luks" or "aes" for an encrypted image, otherwise null.</summary>
    public string? EncryptionFormat { get; init; }

    public required IReadOnlyList<Qcow2Snapshot> Snapshots { get; init; }

    public override string ToString() => Path;
}
