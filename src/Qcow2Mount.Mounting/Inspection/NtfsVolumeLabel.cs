using System.Buffers.Binary;
using System.Text;
using Qcow2Mount.Qcow2;

namespace Qcow2Mount.Mounting.Inspection;

/// <summary>
/// The NTFS volume label, which lives in the $VOLUME_NAME attribute of MFT record 3 ($Volume), not in the boot
/// sector. One record read, every offset checked against the record; null when anything does not fit.
/// </summary>
internal static class NtfsVolumeLabel
{
    private const int VolumeRecord = 3;
    private const uint VolumeNameAttribute = 0x60;
    private const uint EndMarker = 0xFFFF_FFFF;

    /// <summary>Reads the label of the NTFS volume whose boot sector is <paramref name="bootSector"/>.</summary>
    public static string? Read(IVirtualDisk volume, ReadOnlySpan<byte> bootSector)
    {
        int bytesPerSector = BinaryPrimitives.ReadUInt16LittleEndian(bootSector[11..]);
        int sectorsPerCluster = bootSector[13];
        // Cluster sizes past 64 KiB store a negative power of two here.
        long clusterSize = sectorsPerCluster <= 0x80 ? (long)bytesPerSector * sectorsPerCluster : 1L << (256 - sectorsPerCluster);
        long mftCluster = BinaryPrimitives.ReadInt64LittleEndian(bootSector[0x30..]);
        sbyte perRecord = (sbyte)bootSector[0x40];
        long recordSize = perRecord < 0 ? 1L << Math.Min(-perRecord, 31) : perRecord * clusterSize;
        if (bytesPerSector is not (512 or 1024 or 2048 or 4096) || clusterSize <= 0 || recordSize is < 512 or > 4096
            || mftCluster <= 0 || mftCluster > volume.Length / clusterSize)
        {
            return null;
        }

        long offset = (mftCluster * clusterSize) + (VolumeRecord * recordSize);
        if (offset > volume.Length - recordSize)
        {
            return null;
        }

        var record = new byte[recordSize];
        int total = 0;
        while (total < record.Length)
        {
            int n = volume.ReadAt(offset + total, record.AsSpan(total));
            if (n <= 0)
            {
                return null;
            }

            total += n;
        }

        return FromRecord(record, bytesPerSector);
    }

    /// <summary>The $VOLUME_NAME of one MFT record (fixups applied first); null when the record does not hold one.</summary>
    internal static string? FromRecord(Span<byte> record, int bytesPerSector)
    {
        if (record.Length < 48 || !record.StartsWith("FILE"u8) || !ApplyFixups(record, Math.Min(bytesPerSector, 512)))
        {
            return null;
        }

        int at = BinaryPrimitives.ReadUInt16LittleEndian(record[0x14..]);
        while (at >= 0 && at <= record.Length - 24)
        {
            uint type = BinaryPrimitives.ReadUInt32LittleEndian(record[at..]);
            if (type == EndMarker)
            {
                return null;
            }

            int length = BinaryPrimitives.ReadInt32LittleEndian(record[(at + 4)..]);
            if (length < 24 || length > record.Length - at)
            {
                return null;
            }

            if (type == VolumeNameAttribute && record[at + 8] == 0)
            {
                int valueLength = BinaryPrimitives.ReadInt32LittleEndian(record[(at + 0x10)..]);
                int valueOffset = BinaryPrimitives.ReadUInt16LittleEndian(record[(at + 0x14)..]);
                if (valueLength < 0 || valueOffset > length || valueLength > length - valueOffset || (valueLength & 1) != 0)
                {
                    return null;
                }

                string name = Encoding.Unicode.GetString(record.Slice(at + valueOffset, valueLength));
                return name.Length == 0 ? null : name;
            }

            at += length;
        }

        return null;
    }

    /// <summary>
    /// Each 512-byte stride of a record ends in the update sequence number; the real bytes sit in the update
    /// sequence array. A mismatch means a torn record.
    /// </summary>
    private static bool ApplyFixups(Span<byte> record, int stride)
    {
        int arrayOffset = BinaryPrimitives.ReadUInt16LittleEndian(record[4..]);
        int count = BinaryPrimitives.ReadUInt16LittleEndian(record[6..]);
        if (count < 1 || arrayOffset + (count * 2) > record.Length || (count - 1) * stride > record.Length)
        {
            return false;
        }

        ushort sequence = BinaryPrimitives.ReadUInt16LittleEndian(record[arrayOffset..]);
        for (int i = 1; i < count; i++)
        {
            int end = (i * stride) - 2;
            if (BinaryPrimitives.ReadUInt16LittleEndian(record[end..]) != sequence)
            {
                return false;
            }

            record.Slice(arrayOffset + (i * 2), 2).CopyTo(record[end..]);
        }

        return true;
    }
}
