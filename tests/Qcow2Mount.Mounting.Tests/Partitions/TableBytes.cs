using System.Buffers.Binary;
using Qcow2Mount.Mounting.Partitions;

namespace Qcow2Mount.Mounting.Tests.Partitions;

/// <summary>Writes MBR, EBR and GPT structures by hand into a disk image in memory, hostile ones included.</summary>
internal static class TableBytes
{
    public const int Sector = 512;

    /// <summary>Entry <paramref name="slot"/> (0-3) of the boot record at <paramref name="lba"/>, and its 55 AA signature.</summary>
    public static void Entry(byte[] disk, long lba, int slot, byte type, uint start, uint sectors, byte boot = 0)
    {
        var record = disk.AsSpan((int)(lba * Sector), Sector);
        new MbrEntry(boot, type, start, sectors).WriteTo(record[(MbrEntry.TableOffset + (slot * MbrEntry.Size))..]);
        record[510] = 0x55;
        record[511] = 0xAA;
    }

    /// <summary>A protective MBR and a GPT (primary at LBA 1, entries at LBA 2, backup at the end) with the given entries.</summary>
    public static void Gpt(byte[] disk, (Guid Type, ulong First, ulong Last)[] entries, uint entryCount = 128, uint entrySize = 128)
    {
        ulong sectors = (ulong)disk.Length / Sector;
        Entry(disk, 0, 0, MbrEntry.ProtectiveGptType, 1, (uint)Math.Min(sectors - 1, uint.MaxValue));
        var array = new byte[Math.Max(entryCount * (long)entrySize, entries.Length * (long)entrySize)];
        for (int i = 0; i < entries.Length; i++)
        {
            var entry = array.AsSpan(i * (int)entrySize);
            entries[i].Type.TryWriteBytes(entry);
            Guid.NewGuid().TryWriteBytes(entry[16..]);
            BinaryPrimitives.WriteUInt64LittleEndian(entry[32..], entries[i].First);
            BinaryPrimitives.WriteUInt64LittleEndian(entry[40..], entries[i].Last);
        }

        uint arrayCrc = Crc32.Compute(array.AsSpan(0, (int)Math.Min(array.Length, entryCount * (long)entrySize)));
        ulong arraySectors = (ulong)((array.Length + Sector - 1) / Sector);
        if (2 + arraySectors <= sectors)
        {
            array.AsSpan(0, (int)Math.Min(array.Length, (long)(sectors - 2) * Sector)).CopyTo(disk.AsSpan(2 * Sector));
        }

        Header(disk, 1, sectors - 1, 2, entryCount, entrySize, arrayCrc);
        Header(disk, sectors - 1, 1, 2, entryCount, entrySize, arrayCrc);
    }

    /// <summary>A GPT header at <paramref name="lba"/> with a correct CRC over whatever the fields say.</summary>
    public static void Header(byte[] disk, ulong lba, ulong alternate, ulong entriesLba, uint entryCount, uint entrySize, uint arrayCrc)
    {
        ulong sectors = (ulong)disk.Length / Sector;
        var h = disk.AsSpan((int)(lba * Sector), Sector);
        h.Clear();
        BinaryPrimitives.WriteUInt64LittleEndian(h, GptHeader.Signature); // "EFI PART"
        BinaryPrimitives.WriteUInt32LittleEndian(h[8..], 0x0001_0000);    // revision 1.0
        BinaryPrimitives.WriteUInt32LittleEndian(h[12..], 92);            // header size
        BinaryPrimitives.WriteUInt64LittleEndian(h[24..], lba);           // my LBA
        BinaryPrimitives.WriteUInt64LittleEndian(h[32..], alternate);     // alternate LBA
        BinaryPrimitives.WriteUInt64LittleEndian(h[40..], 34);            // first usable LBA
        BinaryPrimitives.WriteUInt64LittleEndian(h[48..], sectors - 34);  // last usable LBA
        Guid.NewGuid().TryWriteBytes(h[56..]);                            // disk GUID
        BinaryPrimitives.WriteUInt64LittleEndian(h[72..], entriesLba);    // entry array LBA
        BinaryPrimitives.WriteUInt32LittleEndian(h[80..], entryCount);    // entries
        BinaryPrimitives.WriteUInt32LittleEndian(h[84..], entrySize);     // bytes per entry
        BinaryPrimitives.WriteUInt32LittleEndian(h[88..], arrayCrc);      // entry array CRC32
        BinaryPrimitives.WriteUInt32LittleEndian(h[16..], Crc32.Compute(h[..92]));
    }
}
