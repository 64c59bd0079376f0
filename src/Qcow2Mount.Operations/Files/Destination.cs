using Qcow2Mount.Qcow2;
using Qcow2Mount.Qcow2.Storage;

namespace Qcow2Mount.Operations;

/// <summary>
/// The checks made before a command replaces a file (convert's DEST, create --force), all before the first byte
/// changes: a wrong destination must fail with the file as it was, never deleted or truncated.
/// </summary>
internal static class Destination
{
    /// <summary>
    /// Throws unless <paramref name="path"/> may be replaced: absent, or a regular file that is none of
    /// <paramref name="inputs"/> (compared by device and inode, so symlinks and hard links are caught) and that no
    /// other process (QEMU, a writable mount) holds open under the image lock.
    /// </summary>
    /// <returns>True when the file exists (and will be replaced).</returns>
    public static bool CheckReplaceable(string path, IEnumerable<string> inputs)
    {
        if (Directory.Exists(path))
        {
            throw new OperationException(OperationErrorCode.InvalidDestination, $"{path}: is a directory");
        }

        string full = Path.GetFullPath(path);
        var comparison = OperatingSystem.IsWindows() ? StringComparison.OrdinalIgnoreCase : StringComparison.Ordinal;
        var target = FileIdentity.Of(path);
        foreach (string input in inputs)
        {
            if (string.Equals(Path.GetFullPath(input), full, comparison)
                || (target is { } t && FileIdentity.Of(input) is { } i && t.SameFileAs(i)))
            {
                throw new OperationException(OperationErrorCode.InvalidDestination, $"{path}: is the same file as {input}, which this command reads");
            }
        }

        if (!File.Exists(path))
        {
            return false;
        }

        if (target is { IsRegularFile: false })
        {
            throw new OperationException(OperationErrorCode.InvalidDestination, $"{path}: is not a regular file (a pipe or a device); name a file to write");
        }

        // Throws Locked while QEMU or a writable mount has it open, before anything is truncated.
        using (HostFile.Open(path, writable: true, lockWriter: true))
        {
        }

        return true;
    }

    /// <summary>The host files a source disk reads (the image, its data file, its backing chain).</summary>
    public static IEnumerable<string> FilesOf(IVirtualDisk disk) => disk switch
    {
        Qcow2Image image => image.HostFiles,
        Qcow2Mount.Qcow2.Backing.RawDisk raw => [raw.Path],
        _ => [],
    };
}
