namespace Qcow2Mount.Qcow2.Mapping;

/// <summary>
/// One run of guest bytes as <c>qemu-img map --output=json</c> describes it.
/// <see cref="Depth"/> is the layer of the backing chain that decided the run (0 = the image itself);
/// <see cref="Present"/> says that layer holds the run (allocated data or zeros) rather than it being unallocated
/// all the way down; <see cref="Zero"/> that it reads as zeros (a zero cluster, nothing behind it, or a hole in the
/// host file); <see cref="Data"/> that bytes are stored for it; <see cref="Offset"/> where they lie in
/// <see cref="File"/> (null when there is no plain host offset: compressed, encrypted, zero clusters without storage).
/// </summary>
public readonly record struct MapEntry(
    long Start,
    long Length,
    int Depth,
    bool Present,
    bool Zero,
    bool Data,
    bool Compressed,
    long? Offset,
    string? File)
{
    public long End => Start + Length;

    /// <summary>qemu-img's rule for joining two neighbouring runs into one line.</summary>
    public bool CanMergeWith(MapEntry next) =>
        Length > 0 && Zero == next.Zero && Data == next.Data && Compressed == next.Compressed && Depth == next.Depth
        && Present == next.Present && Offset.HasValue == next.Offset.HasValue
        && (Offset is not { } offset || offset + Length == next.Offset);
}
