using Qcow2Mount.Qcow2.Crypto;
using Qcow2Mount.Qcow2.Snapshots;

namespace Qcow2Mount.Operations;

/// <summary>What <c>info</c> reports about one image: the fields of <c>qemu-img info</c>.</summary>
/// <param name="Filename">The name as the user (or the overlay's backing name) gave it, not resolved.</param>
/// <param name="Format">"qcow2" or "raw".</param>
/// <param name="VirtualSize">Bytes the guest sees.</param>
/// <param name="ActualSize">Bytes allocated on the host for the image file itself.</param>
/// <param name="ClusterSize">Bytes per cluster (qcow2 only).</param>
/// <param name="DirtyFlag">The image was left open for writing with lazy refcounts (qcow2 v3's dirty bit).</param>
/// <param name="BackingFilename">The backing file name as the header stores it (null without one).</param>
/// <param name="FullBackingFilename">The backing name combined with the overlay's folder, as qemu-img shows it.</param>
/// <param name="BackingFormat">The backing format the header names, if any.</param>
/// <param name="Snapshots">The internal snapshots, in table order.</param>
/// <param name="Qcow2">The qcow2-specific facts (null for raw).</param>
public sealed record ImageDescription(
    string Filename,
    string Format,
    long VirtualSize,
    long ActualSize,
    int? ClusterSize,
    bool DirtyFlag,
    string? BackingFilename,
    string? FullBackingFilename,
    string? BackingFormat,
    IReadOnlyList<SnapshotInfo> Snapshots,
    Qcow2Details? Qcow2)
{
    public bool Encrypted => Qcow2?.Encrypt is not null;
}

/// <summary>qemu-img's "format specific information" for qcow2; null members are absent for v2 images.</summary>
public sealed record Qcow2Details(
    string Compat,
    string CompressionType,
    bool? LazyRefcounts,
    int RefcountBits,
    string? DataFile,
    bool? DataFileRaw,
    bool? Corrupt,
    bool? ExtendedL2,
    EncryptDetails? Encrypt = null);

/// <summary>qemu-img's "encrypt" block: the format, and for LUKS the header's cipher and key slots.</summary>
public sealed record EncryptDetails(string Format, LuksHeader? Luks)
{
    /// <summary>"aes-256": the AES key size; XTS keys hold two AES keys.</summary>
    public string CipherAlg => $"{Luks!.CipherName}-{(Mode == "xts" ? Luks.KeyBytes / 2 : Luks.KeyBytes) * 8}";

    public string Mode => Luks!.CipherMode.Split('-')[0];

    public string IvgenAlg => Luks!.CipherMode.Split('-', 2) is [_, var iv] ? iv.Split(':')[0] : "";

    public string? IvgenHashAlg => Luks!.CipherMode.Split(':', 2) is [_, var hash] ? hash : null;
}
