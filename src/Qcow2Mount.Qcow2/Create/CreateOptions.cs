using Qcow2Mount.Qcow2.Format;

namespace Qcow2Mount.Qcow2.Create;

/// <summary>
/// What <see cref="ImageCreator"/> builds, named after qemu-img's <c>-o</c> options so the same choices give the
/// same image. Everything not set here takes QEMU 7.2's default.
/// </summary>
public sealed record CreateOptions
{
    /// <summary>Virtual size in bytes, rounded up to 512 like QEMU; null takes the backing file's size.</summary>
    public long? Size { get; init; }

    /// <summary>"1.1" (or "v3") for version 3, "0.10" (or "v2") for version 2.</summary>
    public string Compat { get; init; } = "1.1";

    /// <summary>512 B .. 2 MiB, a power of two.</summary>
    public int ClusterSize { get; init; } = 64 * 1024;

    /// <summary>1..64, a power of two; version 2 allows only 16.</summary>
    public int RefcountBits { get; init; } = 16;

    public bool LazyRefcounts { get; init; }

    /// <summary>Subcluster allocation (128-bit L2 entries); needs version 3 and clusters of at least 16 KiB.</summary>
    public bool ExtendedL2 { get; init; }

    /// <summary>zlib (deflate) or zstd; zstd needs version 3.</summary>
    public CompressionType CompressionType { get; init; } = CompressionType.Deflate;

    /// <summary>Backing file name, stored exactly as given; relative names resolve against the new image's folder.</summary>
    public string? BackingFile { get; init; }

    /// <summary>Backing file format ("qcow2", "raw"); stored in the backing-format extension.</summary>
    public string? BackingFormat { get; init; }

    /// <summary>External data file name, stored as given (relative to the image's folder); the file is created.</summary>
    public string? DataFile { get; init; }

    /// <summary>The data file is a raw image of the guest (guest offset == host offset).</summary>
    public bool DataFileRaw { get; init; }

    /// <summary>Only "off" (QEMU's "none" spelling is accepted too).</summary>
    public string Preallocation { get; init; } = "off";

    /// <summary>Replace an existing file at the target path (and at the data file path).</summary>
    public bool Overwrite { get; init; }
}
