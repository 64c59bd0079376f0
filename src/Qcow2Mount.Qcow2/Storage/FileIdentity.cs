namespace Qcow2Mount.Qcow2.Storage;

/// <summary>
/// What a path names: the file's identity on its OS (two paths are one file exactly when these match, through
/// symlinks and hard links alike) and whether it is a regular file (not a pipe, device, socket or directory).
/// On Linux <see cref="Device"/> and <see cref="Inode"/> are st_dev and st_ino (<c>FileIdentity.Unix.cs</c>); on
/// Windows the volume serial number and the file index (<c>FileIdentity.Windows.cs</c>).
/// </summary>
public readonly partial record struct FileIdentity(ulong Device, ulong Inode, bool IsRegularFile)
{
    /// <summary>
    /// The identity of the file <paramref name="path"/> names (symlinks followed); null when it does not exist, or
    /// on an OS or C library this cannot ask (callers then compare full paths).
    /// </summary>
    public static FileIdentity? Of(string path) =>
        OperatingSystem.IsWindows() ? OfWindowsFile(path)
        : OperatingSystem.IsLinux() ? OfLinuxFile(path)
        : null;

    /// <summary>True when both identities name the same existing file.</summary>
    public bool SameFileAs(FileIdentity other) => Device == other.Device && Inode == other.Inode;
}
