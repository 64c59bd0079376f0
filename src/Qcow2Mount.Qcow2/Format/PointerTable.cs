using System.Buffers.Binary;

namespace Qcow2Mount.Qcow2.Format;

/// <summary>
/// The codec of qcow2's tables of big-endian 64-bit entries: the L1 table, the refcount table, bitmap tables, and
/// the words of L2 tables (an entry, or with extended L2 an entry and its subcluster bitmap). Their bytes become
/// entries, and entries bytes, here and nowhere else; what an entry means is the business of <see cref="L1Entry"/>,
/// <see cref="L2Entry"/>, <see cref="RefcountTableEntry"/> and <see cref="BitmapTableEntry"/>.
/// </summary>
public static class PointerTable
{
    /// <summary>Bytes per entry.</summary>
    public const int EntrySize = 8;

    /// <summary>The entries stored in <paramref name="bytes"/> (a trailing partial entry is ignored).</summary>
    public static ulong[] Decode(ReadOnlySpan<byte> bytes)
    {
        var entries = new ulong[bytes.Length / EntrySize];
        for (int i = 0; i < entries.Length; i++)
        {
            entries[i] = ReadEntry(bytes, i);
        }

        return entries;
    }

    /// <summary>Stores <paramref name="entries"/> at the start of <paramref name="destination"/>; the rest is left alone.</summary>
    public static void Encode(ReadOnlySpan<ulong> entries, Span<byte> destination)
    {
        if ((long)entries.Length * EntrySize > destination.Length)
        {
            throw new ArgumentException($"{entries.Length} entries do not fit in {destination.Length} bytes", nameof(destination));
        }

        for (int i = 0; i < entries.Length; i++)
        {
            WriteEntry(destination, i, entries[i]);
        }
    }

    /// <summary>The table as stored, padded with zero entries to <paramref name="length"/> bytes (a whole number of clusters).</summary>
    public static byte[] Encode(ReadOnlySpan<ulong> entries, long length)
    {
        var bytes = new byte[length];
        Encode(entries, bytes);
        return bytes;
    }

    /// <summary>The table as stored, exactly as long as its entries.</summary>
    public static byte[] Encode(ReadOnlySpan<ulong> entries) => Encode(entries, (long)entries.Length * EntrySize);

    /// <summary>Entry <paramref name="index"/> of a stored table.</summary>
    public static ulong ReadEntry(ReadOnlySpan<byte> table, int index) =>
        BinaryPrimitives.ReadUInt64BigEndian(table[(index * EntrySize)..]);

    /// <summary>Stores entry <paramref name="index"/> of a table.</summary>
    public static void WriteEntry(Span<byte> table, int index, ulong entry) =>
        BinaryPrimitives.WriteUInt64BigEndian(table[(index * EntrySize)..], entry);
}
