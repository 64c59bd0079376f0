using System.Diagnostics.CodeAnalysis;

namespace Qcow2Mount.Qcow2.Format;

/// <summary>Incompatible feature bits (header offset 72, v3).</summary>
[Flags]
[SuppressMessage("Design", "CA1028:Enum storage should be Int32", Justification = "The enum is the header's 64-bit incompatible_features field, bit for bit.")]
public enum IncompatibleFeatures : ulong
{
    None = 0,
    Dirty = 1UL << 0,
    Corrupt = 1UL << 1,
    ExternalDataFile = 1UL << 2,
    CompressionType = 1UL << 3,
    ExtendedL2 = 1UL << 4,
}

/// <summary>Compatible feature bits (header offset 80, v3). Unknown ones are kept.</summary>
[Flags]
[SuppressMessage("Design", "CA1028:Enum storage should be Int32", Justification = "The enum is the header's 64-bit compatible_features field, bit for bit.")]
public enum CompatibleFeatures : ulong
{
    None = 0,
    LazyRefcounts = 1UL << 0,
}

/// <summary>Autoclear feature bits (header offset 88, v3): cleared by writers that do not maintain them.</summary>
[Flags]
[SuppressMessage("Design", "CA1028:Enum storage should be Int32", Justification = "The enum is the header's 64-bit autoclear_features field, bit for bit.")]
public enum AutoclearFeatures : ulong
{
    None = 0,
    Bitmaps = 1UL << 0,
    RawExternalData = 1UL << 1,
}

/// <summary>The features this engine implements; any other incompatible bit refuses the open.</summary>
public static class KnownFeatures
{
    public const IncompatibleFeatures Incompatible = IncompatibleFeatures.Dirty | IncompatibleFeatures.Corrupt
        | IncompatibleFeatures.ExternalDataFile | IncompatibleFeatures.CompressionType | IncompatibleFeatures.ExtendedL2;

    public const AutoclearFeatures Autoclear = AutoclearFeatures.RawExternalData;
}

/// <summary>Header <c>compression_type</c> byte.</summary>
[SuppressMessage("Design", "CA1028:Enum storage should be Int32", Justification = "The enum is the header's one-byte compression_type field.")]
public enum CompressionType : byte
{
    Deflate = 0,
    Zstd = 1,
}

/// <summary>Header <c>crypt_method</c>.</summary>
[SuppressMessage("Design", "CA1028:Enum storage should be Int32", Justification = "The enum is the header's 32-bit crypt_method field.")]
public enum CryptMethod : uint
{
    None = 0,
    Aes = 1,
    Luks = 2,
}
