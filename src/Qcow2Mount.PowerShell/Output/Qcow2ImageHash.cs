namespace Qcow2Mount.PowerShell;

/// <summary>
/// The hash of an image's guest bytes, shaped like Get-FileHash's output (Algorithm, Hash in upper-case hex, Path),
/// so it compares directly with Get-FileHash of the mounted disk.raw or of <c>qemu-img convert -O raw</c>'s file.
/// </summary>
public sealed class Qcow2ImageHash
{
    public required string Algorithm { get; init; }

    public required string Hash { get; init; }

    public required string Path { get; init; }

    public override string ToString() => Hash;
}
