using System.Text.RegularExpressions;

namespace Qcow2Mount.PowerShell.Hosting;

/// <summary>
/// Where Mount-Qcow2Image mounts when no -MountPoint is given: on Windows the service's next free drive letter (Z:
/// downwards, as WinFsp and the CLI pick it); elsewhere a new folder named after the image under the user's runtime folder
/// (<c>$XDG_RUNTIME_DIR/qcow2mount/mnt</c>, else <c>{temp}/qcow2mount-{user}/mnt</c>), never beside the image, whose
/// folder may be read-only evidence. Dismount-Qcow2Image removes such a folder again once it is empty.
/// </summary>
internal static partial class DefaultMountPoint
{
    /// <summary>The folder the default mount folders are made in (non-Windows).</summary>
    public static string Root =>
        Path.Combine(
            Environment.GetEnvironmentVariable("XDG_RUNTIME_DIR") is { Length: > 0 } runtime && Path.IsPathRooted(runtime) && Directory.Exists(runtime)
                ? Path.Combine(runtime, "qcow2mount")
                : Path.Combine(Path.GetTempPath(), "qcow2mount-" + Environment.UserName),
            "mnt");

    /// <summary>A drive letter alone ("M", "M:", "m:\"), as Windows mount points are written.</summary>
    public static bool IsDriveLetter(string mountPoint) => DriveLetter().IsMatch(mountPoint);

    /// <summary>"M:" for any spelling <see cref="IsDriveLetter"/> accepts.</summary>
    public static string NormalizeDriveLetter(string mountPoint) => char.ToUpperInvariant(mountPoint[0]) + ":";

    /// <summary>Creates and returns a new, empty folder for <paramref name="image"/> under <see cref="Root"/>.</summary>
    public static string NewFolderFor(string image)
    {
        string root = Root;
        if (OperatingSystem.IsWindows())
        {
            Directory.CreateDirectory(root);
        }
        else
        {
            // Private to the user, like the service's socket folder: the names reveal which images are mounted.
            Directory.CreateDirectory(Path.GetDirectoryName(root)!, UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute);
            Directory.CreateDirectory(root, UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute);
        }

        string name = Path.GetFileNameWithoutExtension(image);
        for (int attempt = 1; ; attempt++)
        {
            string candidate = Path.Combine(root, attempt == 1 ? name : $"{name}-{attempt}");
            if (Directory.Exists(candidate) || File.Exists(candidate))
            {
                continue;
            }

            Directory.CreateDirectory(candidate);
            return candidate;
        }
    }

    /// <summary>After an unmount: removes <paramref name="mountPoint"/> when it is one of the folders made here and empty.</summary>
    public static void RemoveIfMadeHere(string mountPoint)
    {
        string root = Root;
        if (Path.GetDirectoryName(Path.TrimEndingDirectorySeparator(mountPoint)) is not { } parent
            || !string.Equals(parent, root, OperatingSystem.IsLinux() ? StringComparison.Ordinal : StringComparison.OrdinalIgnoreCase))
        {
            return;
        }

        try
        {
            if (Directory.Exists(mountPoint) && !Directory.EnumerateFileSystemEntries(mountPoint).Any())
            {
                Directory.Delete(mountPoint);
            }
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            // Still busy or already gone: an empty folder left behind is harmless.
        }
    }

    [GeneratedRegex(@"^[A-Za-z]:?\\?$")]
    private static partial Regex DriveLetter();
}
