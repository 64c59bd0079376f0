namespace Qcow2Mount.TestSupport;

/// <summary>
/// What the engine must report for a hostile image. The names match <c>Qcow2ErrorCode</c> (so tests can
/// <c>Enum.Parse</c> across), plus <see cref="ReadError"/> for images that open but fail on read.
/// </summary>
public enum HostileCategory
{
    /// <summary>Not a qcow2 file: no magic, or too short to hold a header.</summary>
    NotQcow2,
    /// <summary>A header or table field is out of range or inconsistent.</summary>
    InvalidHeader,
    /// <summary>A feature the engine does not implement: unknown incompatible bit, unknown version.</summary>
    Unsupported,
    /// <summary>An encrypted image opened without its password.</summary>
    Password,
    /// <summary>Metadata points somewhere impossible: past EOF, misaligned, overlapping the header.</summary>
    Corrupt,
    /// <summary>A backing file or external data file is missing.</summary>
    MissingFile,
    /// <summary>The backing chain loops or is deeper than the limit.</summary>
    BackingChain,
    /// <summary>Opening succeeds; reading <see cref="HostileEntry.ReadOffset"/>/<see cref="HostileEntry.ReadLength"/> must throw.</summary>
    ReadError,
}

/// <summary>One hostile image from the hostile manifest (made by <c>tests/corpus/make-hostile.sh</c>).</summary>
/// <param name="Name">Case name, e.g. <c>l1-size-huge</c>.</param>
/// <param name="Path">Absolute path of the image.</param>
/// <param name="ExpectedCategory">What the engine must report.</param>
/// <param name="ReadOffset">For <see cref="HostileCategory.ReadError"/>: start of the guest range whose read must fail.</param>
/// <param name="ReadLength">For <see cref="HostileCategory.ReadError"/>: length of that range.</param>
/// <param name="Description">What is broken, and whether QEMU accepts it.</param>
public sealed record HostileEntry(
    string Name,
    string Path,
    HostileCategory ExpectedCategory,
    long? ReadOffset,
    long? ReadLength,
    string Description)
{
    /// <summary>True when opening must fail; false for <see cref="HostileCategory.ReadError"/> cases.</summary>
    public bool FailsAtOpen => ExpectedCategory != HostileCategory.ReadError;

    public override string ToString() => Name;
}
