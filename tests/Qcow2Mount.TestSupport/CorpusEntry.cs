namespace Qcow2Mount.TestSupport;

/// <summary>
/// One view of a valid corpus image: the active layer (<see cref="Snapshot"/> null) or one internal snapshot.
/// Paths are absolute. What QEMU reads from the view is in <see cref="ExpectedRawPath"/> (sparse, exactly the
/// view's virtual size).
/// </summary>
/// <param name="Name">Image name from the manifest, e.g. <c>v3-c512-rc1</c>.</param>
/// <param name="ImagePath">The qcow2 file (its backing files and data files sit next to it as QEMU expects).</param>
/// <param name="Snapshot">Internal snapshot name, or null for the active layer.</param>
/// <param name="Description">What the image covers.</param>
/// <param name="ExpectedRawPath"><c>qemu-img convert -O raw</c> of this view.</param>
/// <param name="InfoJsonPath"><c>qemu-img info --output=json</c> of the image.</param>
/// <param name="BackingChainInfoJsonPath">The same with <c>--backing-chain</c> (a JSON array, top image first).</param>
public sealed record CorpusEntry(
    string Name,
    string ImagePath,
    string? Snapshot,
    string Description,
    string ExpectedRawPath,
    string InfoJsonPath,
    string BackingChainInfoJsonPath)
{
    /// <summary><c>name</c> or <c>name@snapshot</c>: unique per view, used as the test case name.</summary>
    public string ViewName => Snapshot is null ? Name : $"{Name}@{Snapshot}";

    /// <summary>Guest size of this view (the expected raw is exactly that long).</summary>
    public long VirtualSize => new FileInfo(ExpectedRawPath).Length;

    public override string ToString() => ViewName;
}
