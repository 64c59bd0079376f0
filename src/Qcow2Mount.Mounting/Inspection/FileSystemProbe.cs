using System.Buffers.Binary;
using System.Globalization;
using System.Text;
using Qcow2Mount.Qcow2;

namespace Qcow2Mount.Mounting.Inspection;

/// <summary>
/// Recognizes a file system by its signature in the first <see cref="ProbeLength"/> bytes of a volume, as blkid
/// does, without mounting or trusting anything else. Pure: <see cref="Detect(ReadOnlySpan{byte})"/> works on bytes.
/// </summary>
public static class FileSystemProbe
{
    /// <summary>Bytes looked at: enough for the Btrfs superblock at 64 KiB and a swap signature on 64 KiB pages.</summary>
    public const int ProbeLength = 0x11000;

    private const int SuperblockOffset = 1024; // ext2/3/4 and the swap header's fields

    private static ReadOnlySpan<byte> LuksMagic => [(byte)'L', (byte)'U', (byte)'K', (byte)'S', 0xBA, 0xBE];

    /// <summary>
    /// Reads the start of <paramref name="volume"/> (a partition window or a whole disk) and detects what it holds;
    /// null when nothing is recognized. For NTFS it also reads one MFT record, where the label lives.
    /// </summary>
    public static FileSystemSignature? Detect(IVirtualDisk volume)
    {
        ArgumentNullException.ThrowIfNull(volume);
        var buffer = new byte[(int)Math.Min(ProbeLength, volume.Length)];
        int total = 0;
        while (total < buffer.Length)
        {
            int n = volume.ReadAt(total, buffer.AsSpan(total));
            if (n <= 0)
            {
                break;
            }

            total += n;
        }

        var found = Detect(buffer.AsSpan(0, total));
        return found is { Kind: FileSystemKind.Ntfs, Label: null }
            ? found with { Label = NtfsVolumeLabel.Read(volume, buffer.AsSpan(0, 512)) }
            : found;
    }

    /// <summary>Detects the file system whose first bytes are <paramref name="start"/>; null when nothing is recognized.</summary>
    public static FileSystemSignature? Detect(ReadOnlySpan<byte> start) =>
        Luks(start) ?? BitLocker(start) ?? Ntfs(start) ?? ExFat(start) ?? Xfs(start) ?? Ext(start) ?? Btrfs(start)
        ?? Lvm2(start) ?? Swap(start) ?? Fat(start);

    private static FileSystemSignature? Luks(ReadOnlySpan<byte> b)
    {
        // LUKS1/LUKS2 header: magic "LUKS" BA BE, big-endian version at 6, label (LUKS2) at 24, UUID text at 168.
        if (b.Length < 208 || !b.StartsWith(LuksMagic))
        {
            return null;
        }

        int version = BinaryPrimitives.ReadUInt16BigEndian(b[6..]);
        return new FileSystemSignature(FileSystemKind.Luks, version == 2 ? Text(b.Slice(24, 48)) : null, Text(b.Slice(168, 40)), version);
    }

    private static FileSystemSignature? BitLocker(ReadOnlySpan<byte> b)
    {
        // The volume header replaces the boot sector; the OEM field at 3 says "-FVE-FS-", the volume GUID sits at 160.
        if (b.Length < 512 || !b[3..].StartsWith("-FVE-FS-"u8))
        {
            return null;
        }

        var guid = new Guid(b.Slice(160, 16));
        return new FileSystemSignature(FileSystemKind.BitLocker, Uuid: guid == Guid.Empty ? null : guid.ToString());
    }

    private static FileSystemSignature? Ntfs(ReadOnlySpan<byte> b)
    {
        // Boot sector: OEM "NTFS    " at 3, 64-bit volume serial number at 0x48 (blkid prints it as 16 hex digits).
        if (b.Length < 512 || !b[3..].StartsWith("NTFS    "u8) || !HasBootSignature(b))
        {
            return null;
        }

        ulong serial = BinaryPrimitives.ReadUInt64LittleEndian(b[0x48..]);
        return new FileSystemSignature(FileSystemKind.Ntfs, Uuid: serial.ToString("X16", CultureInfo.InvariantCulture));
    }

    private static FileSystemSignature? ExFat(ReadOnlySpan<byte> b)
    {
        // Boot sector: "EXFAT   " at 3, 32-bit volume serial number at 100; the label lives in the root directory.
        if (b.Length < 512 || !b[3..].StartsWith("EXFAT   "u8))
        {
            return null;
        }

        return new FileSystemSignature(FileSystemKind.ExFat, Uuid: Serial32(BinaryPrimitives.ReadUInt32LittleEndian(b[100..])));
    }

    private static FileSystemSignature? Xfs(ReadOnlySpan<byte> b)
    {
        // Superblock at 0, big-endian: magic "XFSB", UUID at 32, 12-byte label at 108.
        if (b.Length < 120 || !b.StartsWith("XFSB"u8))
        {
            return null;
        }

        return new FileSystemSignature(FileSystemKind.Xfs, Text(b.Slice(108, 12)), Uuid(b.Slice(32, 16)));
    }

    private static FileSystemSignature? Ext(ReadOnlySpan<byte> b)
    {
        // Superblock at 1024, little-endian: magic EF53 at +56, feature words at +92 (compat), +96 (incompat),
        // +100 (ro_compat), UUID at +104, 16-byte label at +120.
        if (b.Length < SuperblockOffset + 136 || BinaryPrimitives.ReadUInt16LittleEndian(b[(SuperblockOffset + 56)..]) != 0xEF53)
        {
            return null;
        }

        var sb = b[SuperblockOffset..];
        uint compat = BinaryPrimitives.ReadUInt32LittleEndian(sb[92..]);
        uint incompat = BinaryPrimitives.ReadUInt32LittleEndian(sb[96..]);
        uint roCompat = BinaryPrimitives.ReadUInt32LittleEndian(sb[100..]);
        const uint HasJournal = 0x4;
        const uint Ext3Incompat = 0x2 | 0x4 | 0x10; // filetype, recover, meta_bg
        const uint Ext3RoCompat = 0x1 | 0x2 | 0x4;  // sparse_super, large_file, btree_dir
        // As blkid decides: features ext3 does not know make it ext4; a journal alone makes it ext3.
        var kind = (incompat & ~Ext3Incompat) != 0 || (roCompat & ~Ext3RoCompat) != 0 ? FileSystemKind.Ext4
            : (compat & HasJournal) != 0 ? FileSystemKind.Ext3
            : FileSystemKind.Ext2;
        return new FileSystemSignature(kind, Text(sb.Slice(120, 16)), Uuid(sb.Slice(104, 16)));
    }

    private static FileSystemSignature? Btrfs(ReadOnlySpan<byte> b)
    {
        // Superblock at 64 KiB: fsid at +0x20, magic "_BHRfS_M" at +0x40, 256-byte label at +0x12B.
        const int At = 0x10000;
        if (b.Length < At + 0x22B || !b[(At + 0x40)..].StartsWith("_BHRfS_M"u8))
        {
            return null;
        }

        return new FileSystemSignature(FileSystemKind.Btrfs, Text(b.Slice(At + 0x12B, 256)), Uuid(b.Slice(At + 0x20, 16)));
    }

    private static FileSystemSignature? Lvm2(ReadOnlySpan<byte> b)
    {
        // A label in one of the first four sectors: "LABELONE" at 0, the offset of the PV header at 20 (from the
        // label's sector), type "LVM2 001" at 24; the PV header starts with the 32-character PV UUID.
        for (int sector = 0; sector < 4 && (sector + 1) * 512 <= b.Length; sector++)
        {
            var label = b.Slice(sector * 512, 512);
            if (!label.StartsWith("LABELONE"u8) || !label[24..].StartsWith("LVM2 001"u8))
            {
                continue;
            }

            uint header = BinaryPrimitives.ReadUInt32LittleEndian(label[20..]);
            long uuidAt = (sector * 512L) + header;
            string? uuid = header is >= 32 and < 512 && uuidAt + 32 <= b.Length ? LvmUuid(b.Slice((int)uuidAt, 32)) : null;
            return new FileSystemSignature(FileSystemKind.Lvm2, Uuid: uuid);
        }

        return null;
    }

    private static FileSystemSignature? Swap(ReadOnlySpan<byte> b)
    {
        // The signature ends the first page (whatever the page size that made it); version 1 keeps the UUID at
        // 1024+12 and a 16-byte label at 1024+28.
        foreach (int page in new[] { 4096, 8192, 16384, 65536 })
        {
            if (b.Length < page)
            {
                break;
            }

            var signature = b.Slice(page - 10, 10);
            if (signature.SequenceEqual("SWAPSPACE2"u8))
            {
                return new FileSystemSignature(FileSystemKind.Swap, Text(b.Slice(SuperblockOffset + 28, 16)), Uuid(b.Slice(SuperblockOffset + 12, 16)), Version: 1);
            }

            if (signature.SequenceEqual("SWAP-SPACE"u8))
            {
                return new FileSystemSignature(FileSystemKind.Swap, Version: 0);
            }
        }

        return null;
    }

    private static FileSystemSignature? Fat(ReadOnlySpan<byte> b)
    {
        // No magic: a BIOS parameter block that makes sense, as blkid and the kernel judge it, then the FAT type
        // from the layout (a zero 16-bit FAT size is FAT32) and the cluster count (Microsoft's rule), never from the type string.
        if (b.Length < 512 || !HasBootSignature(b) || b[0] is not (0xEB or 0xE9))
        {
            return null;
        }

        int bytesPerSector = BinaryPrimitives.ReadUInt16LittleEndian(b[11..]);
        int sectorsPerCluster = b[13];
        int reserved = BinaryPrimitives.ReadUInt16LittleEndian(b[14..]);
        int fats = b[16];
        int rootEntries = BinaryPrimitives.ReadUInt16LittleEndian(b[17..]);
        long totalSectors = BinaryPrimitives.ReadUInt16LittleEndian(b[19..]) is var small and not 0 ? small : BinaryPrimitives.ReadUInt32LittleEndian(b[32..]);
        byte media = b[21];
        long fatSize = BinaryPrimitives.ReadUInt16LittleEndian(b[22..]) is var fat16 and not 0 ? fat16 : BinaryPrimitives.ReadUInt32LittleEndian(b[36..]);
        if (bytesPerSector is not (512 or 1024 or 2048 or 4096) || sectorsPerCluster == 0 || (sectorsPerCluster & (sectorsPerCluster - 1)) != 0
            || reserved == 0 || fats is 0 or > 4 || (media < 0xF8 && media != 0xF0) || fatSize == 0 || totalSectors == 0)
        {
            return null;
        }

        long rootSectors = ((rootEntries * 32L) + bytesPerSector - 1) / bytesPerSector;
        long dataSectors = totalSectors - (reserved + (fats * fatSize) + rootSectors);
        if (dataSectors <= 0)
        {
            return null;
        }

        long clusters = dataSectors / sectorsPerCluster;
        // A 16-bit FAT size of zero is the FAT32 layout (32-bit FAT size, extended BPB at 64), whatever the cluster
        // count: mkfs.fat -F 32 makes small FAT32 volumes below 65525 clusters, and Linux and blkid call them FAT32.
        bool fat32Layout = BinaryPrimitives.ReadUInt16LittleEndian(b[22..]) == 0;
        var kind = fat32Layout || clusters >= 65525 ? FileSystemKind.Fat32 : clusters < 4085 ? FileSystemKind.Fat12 : FileSystemKind.Fat16;
        // The extended boot signature 0x29 says the serial number and label follow: at 39/43 (FAT12/16) or 67/71 (FAT32).
        int signatureAt = kind == FileSystemKind.Fat32 ? 66 : 38;
        if (b[signatureAt] != 0x29)
        {
            return new FileSystemSignature(kind);
        }

        string? label = Text(b.Slice(signatureAt + 5, 11));
        return new FileSystemSignature(kind, label == "NO NAME" ? null : label, Serial32(BinaryPrimitives.ReadUInt32LittleEndian(b[(signatureAt + 1)..])));
    }

    private static bool HasBootSignature(ReadOnlySpan<byte> b) => b[510] == 0x55 && b[511] == 0xAA;

    /// <summary>A FAT or exFAT serial number as blkid prints it: XXXX-XXXX.</summary>
    private static string Serial32(uint serial) =>
        string.Create(CultureInfo.InvariantCulture, $"{serial >> 16:X4}-{serial & 0xFFFF:X4}");

    /// <summary>A UUID stored as 16 bytes in network order (ext, XFS, Btrfs, swap), as text.</summary>
    private static string? Uuid(ReadOnlySpan<byte> bytes)
    {
        if (!bytes.ContainsAnyExcept((byte)0))
        {
            return null;
        }

        string hex = Convert.ToHexStringLower(bytes);
        return $"{hex[..8]}-{hex[8..12]}-{hex[12..16]}-{hex[16..20]}-{hex[20..]}";
    }

    /// <summary>LVM prints its 32-character UUIDs in groups of 6-4-4-4-4-4-6.</summary>
    private static string LvmUuid(ReadOnlySpan<byte> bytes)
    {
        string raw = Encoding.ASCII.GetString(bytes);
        return string.Join('-', raw[..6], raw[6..10], raw[10..14], raw[14..18], raw[18..22], raw[22..26], raw[26..]);
    }

    /// <summary>A fixed-size text field: up to the first NUL, trailing spaces dropped; null when empty.</summary>
    private static string? Text(ReadOnlySpan<byte> field)
    {
        int end = field.IndexOf((byte)0);
        string text = Encoding.UTF8.GetString(end >= 0 ? field[..end] : field).TrimEnd(' ');
        return text.Length == 0 ? null : text;
    }
}
