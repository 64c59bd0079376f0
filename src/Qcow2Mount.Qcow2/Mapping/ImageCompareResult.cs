namespace Qcow2Mount.Qcow2.Mapping;

/// <summary>
/// The answer of <see cref="ImageCompare"/>, as <c>qemu-img compare</c> gives it: identical or not, the first
/// differing offset (in 512-byte sectors, as qemu-img reports it), and the lines qemu-img would print.
/// </summary>
public sealed record ImageCompareResult(bool Identical, long? FirstDifference, IReadOnlyList<string> Messages)
{
    /// <summary>qemu-img compare's exit code: 0 identical, 1 different.</summary>
    public int ExitCode => Identical ? 0 : 1;
}
