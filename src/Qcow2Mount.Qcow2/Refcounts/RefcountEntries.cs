using System.Buffers.Binary;

namespace Qcow2Mount.Qcow2.Refcounts;

/// <summary>
/// Reads and writes one refcount inside a refcount block of 2^order-bit entries. Entries narrower than a byte
/// are packed from the least significant bit up (entry 0 in bit 0); wider ones are big-endian.
/// </summary>
public static class RefcountEntries
{
    public static ulong MaxValue(int order) => order == 6 ? ulong.MaxValue : (1UL << (1 << order)) - 1;

    /// <summary>Entries in one refcount block of <paramref name="clusterBits"/>.</summary>
    public static int PerBlock(int clusterBits, int order) => 1 << (clusterBits + 3 - order);

    public static ulong Get(ReadOnlySpan<byte> block, int order, int index)
    {
        switch (order)
        {
            case < 3:
                int bits = 1 << order;
                int shift = (index * bits) & 7;
                return (ulong)((block[(index * bits) >> 3] >> shift) & ((1 << bits) - 1));
            case 3:
                return block[index];
            case 4:
                return BinaryPrimitives.ReadUInt16BigEndian(block[(index * 2)..]);
            case 5:
                return BinaryPrimitives.ReadUInt32BigEndian(block[(index * 4)..]);
            default:
                return BinaryPrimitives.ReadUInt64BigEndian(block[(index * 8)..]);
        }
    }

    public static void Set(Span<byte> block, int order, int index, ulong value)
    {
        if (value > MaxValue(order))
        {
            throw new Qcow2Exception(Qcow2ErrorCode.Corrupt, $"refcount {value} does not fit in {1 << order} bits");
        }

        switch (order)
        {
            case < 3:
                int bits = 1 << order;
                int shift = (index * bits) & 7;
                int mask = ((1 << bits) - 1) << shift;
                ref byte b = ref block[(index * bits) >> 3];
                b = (byte)((b & ~mask) | ((int)value << shift));
                break;
            case 3:
                block[index] = (byte)value;
                break;
            case 4:
                BinaryPrimitives.WriteUInt16BigEndian(block[(index * 2)..], (ushort)value);
                break;
            case 5:
                BinaryPrimitives.WriteUInt32BigEndian(block[(index * 4)..], (uint)value);
                break;
            default:
                BinaryPrimitives.WriteUInt64BigEndian(block[(index * 8)..], value);
                break;
        }
    }
}
