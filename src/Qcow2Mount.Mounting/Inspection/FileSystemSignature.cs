namespace Qcow2Mount.Mounting.Inspection;

/// <summary>The file systems (and containers) recognized by their signatures.</summary>
public enum FileSystemKind
{
    Ntfs,
    Fat12,
    Fat16,
    Fat32,
    ExFat,
    Ext2,
    Ext3,
    Ext4,
    Xfs,
    Btrfs,

    /// <summary>An LVM2 physical volume (its UUID is the PV UUID).</summary>
    Lvm2,

    /// <summary>A LUKS1 or LUKS2 encrypted container (<see cref="FileSystemSignature.Version"/> says which).</summary>
    Luks,
    BitLocker,
    Swap,
}

/// <summary>
/// What a partition's first bytes say it holds: the kind, and the label and UUID (or serial number) where the boot
/// sector or superblock holds them, formatted as blkid prints them. NTFS keeps its label in $Volume: only the
/// disk probe (<see cref="FileSystemProbe.Detect(Qcow2Mount.Qcow2.IVirtualDisk)"/>) reads it. exFAT keeps its label in
/// the root directory: none is given.
/// </summary>
public sealed record FileSystemSignature(FileSystemKind Kind, string? Label = null, string? Uuid = null, int? Version = null)
{
    /// <summary>The name blkid gives the type ("ntfs", "vfat", "ext4", "crypto_LUKS", ...).</summary>
    public string TypeName => Kind switch
    {
        FileSystemKind.Ntfs => "ntfs",
        FileSystemKind.Fat12 or FileSystemKind.Fat16 or FileSystemKind.Fat32 => "vfat",
        FileSystemKind.ExFat => "exfat",
        FileSystemKind.Ext2 => "ext2",
        FileSystemKind.Ext3 => "ext3",
        FileSystemKind.Ext4 => "ext4",
        FileSystemKind.Xfs => "xfs",
        FileSystemKind.Btrfs => "btrfs",
        FileSystemKind.Lvm2 => "LVM2_member",
        FileSystemKind.Luks => "crypto_LUKS",
        FileSystemKind.BitLocker => "BitLocker",
        FileSystemKind.Swap => "swap",
        _ => Kind.ToString(),
    };

    /// <summary>A short description for reports, e.g. "FAT32", "ext4", "LUKS2".</summary>
    public string Description => Kind switch
    {
        FileSystemKind.Ntfs => "NTFS",
        FileSystemKind.Fat12 => "FAT12",
        FileSystemKind.Fat16 => "FAT16",
        FileSystemKind.Fat32 => "FAT32",
        FileSystemKind.ExFat => "exFAT",
        FileSystemKind.Xfs => "XFS",
        FileSystemKind.Btrfs => "Btrfs",
        FileSystemKind.Lvm2 => "LVM2 PV",
        FileSystemKind.Luks => Version is { } v ? $"LUKS{v}" : "LUKS",
        FileSystemKind.Swap => "Linux swap",
        _ => TypeName,
    };
}
