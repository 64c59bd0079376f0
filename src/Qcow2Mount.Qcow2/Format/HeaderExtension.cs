using System.Buffers.Binary;
using System.Diagnostics.CodeAnalysis;
using System.Text;

namespace Qcow2Mount.Qcow2.Format;

/// <summary>Known header extension types (u32 type, u32 length, data padded to 8 bytes).</summary>
[SuppressMessage("Design", "CA1028:Enum storage should be Int32", Justification = "The enum is a header extension's 32-bit type field.")]
public enum HeaderExtensionType : uint
{
    End = 0,
    BackingFormat = 0xE2792ACA,
    FeatureNameTable = 0x6803F857,
    Bitmaps = 0x23852875,
    LuksHeader = 0x0537BE77,
    ExternalDataFile = 0x44415441,
}

/// <summary>One header extension as stored; unknown ones are kept verbatim so a header rewrite preserves them.</summary>
public readonly record struct HeaderExtension(uint Type, ReadOnlyMemory<byte> Data)
{
    public HeaderExtensionType Kind => (HeaderExtensionType)Type;

    /// <summary>Bytes the extension takes: type, length, and the data padded to 8.</summary>
    public int StoredSize => 8 + ((Data.Length + 7) & ~7);

    /// <summary>Writes type, length and data (padding left as it is: zero in a fresh cluster); returns <see cref="StoredSize"/>.</summary>
    public int WriteTo(Span<byte> destination)
    {
        BinaryPrimitives.WriteUInt32BigEndian(destination, Type);
        BinaryPrimitives.WriteUInt32BigEndian(destination[4..], (uint)Data.Length);
        Data.Span.CopyTo(destination[8..]);
        return StoredSize;
    }
}

/// <summary>One 48-byte entry of the feature-name table: which bit of which feature word, and its name.</summary>
public readonly record struct FeatureName(FeatureKind Kind, int Bit, string Name)
{
    public const int Size = 48;

    public static FeatureName Parse(ReadOnlySpan<byte> entry)
    {
        var name = entry[2..Size];
        int end = name.IndexOf((byte)0);
        return new FeatureName((FeatureKind)entry[0], entry[1], Encoding.UTF8.GetString(end < 0 ? name : name[..end]));
    }

    /// <summary>Writes the entry: kind, bit, and the name zero-padded to 46 bytes (the caller keeps names that short).</summary>
    public void WriteTo(Span<byte> entry)
    {
        entry[..Size].Clear();
        entry[0] = (byte)Kind;
        entry[1] = (byte)Bit;
        Encoding.UTF8.GetBytes(Name).CopyTo(entry[2..Size]);
    }
}

[SuppressMessage("Design", "CA1028:Enum storage should be Int32", Justification = "The enum is the one-byte type of a feature name table entry.")]
public enum FeatureKind : byte
{
    Incompatible = 0,
    Compatible = 1,
    Autoclear = 2,
}

/// <summary>The header extensions area that follows the fixed header in cluster 0.</summary>
public sealed class HeaderExtensions
{
    private const int MaxExtensions = 1024;

    public IReadOnlyList<HeaderExtension> All { get; private init; } = [];
    public string? BackingFormat { get; private init; }
    public string? ExternalDataFile { get; private init; }
    public IReadOnlyList<FeatureName> FeatureNames { get; private init; } = [];
    public bool HasBitmaps { get; private init; }

    /// <summary>The bitmaps extension's data (null without the extension, or when it is too short to read).</summary>
    public BitmapsExtension? Bitmaps { get; private init; }

    /// <summary>Where a LUKS-encrypted image keeps its LUKS header: offset and length in the image file.</summary>
    public (long Offset, long Length)? LuksHeaderLocation { get; private init; }

    /// <summary>Parses the extensions in <paramref name="cluster0"/> starting at <paramref name="offset"/>.</summary>
    /// <param name="cluster0">The image's first cluster.</param>
    /// <param name="offset">Where the extensions start: the end of the header.</param>
    /// <param name="limit">End of the area extensions may use (the backing file name, or the end of cluster 0).</param>
    public static HeaderExtensions Parse(ReadOnlySpan<byte> cluster0, int offset, int limit)
    {
        var all = new List<HeaderExtension>();
        var seen = new HashSet<uint>();
        string? backingFormat = null, dataFile = null;
        var features = new List<FeatureName>();
        bool bitmaps = false;
        BitmapsExtension? bitmapsExtension = null;
        (long, long)? luks = null;
        while (true)
        {
            if (offset + 8 > limit)
            {
                // QEMU treats a missing end marker at the end of the area as the end.
                break;
            }

            uint type = BinaryPrimitives.ReadUInt32BigEndian(cluster0[offset..]);
            uint length = BinaryPrimitives.ReadUInt32BigEndian(cluster0[(offset + 4)..]);
            offset += 8;
            if (type == (uint)HeaderExtensionType.End)
            {
                break;
            }

            if (length > (uint)(limit - offset))
            {
                throw new Qcow2Exception(Qcow2ErrorCode.InvalidHeader,
                    $"header extension {type:x8} has length {length}, past the end of the header area");
            }

            if (!seen.Add(type) || all.Count >= MaxExtensions)
            {
                throw new Qcow2Exception(Qcow2ErrorCode.InvalidHeader, $"header extension {type:x8} appears more than once");
            }

            var data = cluster0.Slice(offset, (int)length);
            switch ((HeaderExtensionType)type)
            {
                case HeaderExtensionType.BackingFormat:
                    backingFormat = Encoding.UTF8.GetString(data).TrimEnd('\0');
                    break;
                case HeaderExtensionType.ExternalDataFile:
                    dataFile = Encoding.UTF8.GetString(data).TrimEnd('\0');
                    break;
                case HeaderExtensionType.FeatureNameTable:
                    for (int i = 0; i + FeatureName.Size <= data.Length; i += FeatureName.Size)
                    {
                        features.Add(FeatureName.Parse(data[i..]));
                    }

                    break;
                case HeaderExtensionType.Bitmaps:
                    bitmaps = true;
                    bitmapsExtension = BitmapsExtension.Parse(data);
                    break;
                case HeaderExtensionType.LuksHeader:
                    if (data.Length < 16)
                    {
                        throw new Qcow2Exception(Qcow2ErrorCode.InvalidHeader, $"LUKS header extension has length {data.Length}, not 16");
                    }

                    ulong luksOffset = BinaryPrimitives.ReadUInt64BigEndian(data);
                    ulong luksLength = BinaryPrimitives.ReadUInt64BigEndian(data[8..]);
                    if (luksOffset > long.MaxValue || luksLength > long.MaxValue)
                    {
                        throw new Qcow2Exception(Qcow2ErrorCode.InvalidHeader, $"LUKS header extension points at {luksOffset} (+{luksLength})");
                    }

                    luks = ((long)luksOffset, (long)luksLength);
                    break;
                default:
                    break;
            }

            all.Add(new HeaderExtension(type, data.ToArray()));
            offset += (int)((length + 7) & ~7u);
        }

        return new HeaderExtensions
        {
            All = all,
            BackingFormat = backingFormat,
            ExternalDataFile = dataFile,
            FeatureNames = features,
            HasBitmaps = bitmaps,
            Bitmaps = bitmapsExtension,
            LuksHeaderLocation = luks,
        };
    }

    /// <summary>Names the unknown incompatible bits from the feature-name table, as QEMU does.</summary>
    public string DescribeIncompatible(ulong unknownBits)
    {
        var names = new List<string>();
        for (int bit = 0; bit < 64; bit++)
        {
            if ((unknownBits & (1UL << bit)) == 0)
            {
                continue;
            }

            var entry = FeatureNames.FirstOrDefault(f => f.Kind == FeatureKind.Incompatible && f.Bit == bit);
            names.Add(entry.Name is { Length: > 0 } ? entry.Name : $"Unknown incompatible feature: {1UL << bit:x}");
        }

        return string.Join(", ", names);
    }
}
