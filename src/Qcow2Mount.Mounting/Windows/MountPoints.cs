namespace Qcow2Mount.Mounting.Windows;

/// <summary>The two kinds of Windows mount point both adapters (WinFsp and Dokan) accept.</summary>
public enum WindowsMountPointKind
{
    /// <summary>A drive letter, <c>M:</c>.</summary>
    DriveLetter,

    /// <summary>An empty folder on an NTFS volume, <c>C:\mnt\disk</c> (it may also not exist yet; its parent must).</summary>
    Folder,
}

/// <summary>A resolved Windows mount point: a free drive letter, or an empty (or still missing) NTFS folder.</summary>
/// <param name="Kind">Drive letter or folder.</param>
/// <param name="Path"><c>M:</c> for a letter (upper case, no separator); the full folder path without a trailing separator.</param>
/// <param name="FolderExists">For a folder: whether it exists already (empty). WinFsp wants it missing, Dokan existing:
/// each adapter creates or removes it as its driver needs.</param>
public sealed record WindowsMountPoint(WindowsMountPointKind Kind, string Path, bool FolderExists = false)
{
    /// <summary>The drive letter of a <see cref="WindowsMountPointKind.DriveLetter"/> mount point.</summary>
    public char Letter => Kind == WindowsMountPointKind.DriveLetter ? Path[0] : throw new InvalidOperationException($"'{Path}' is a folder, not a drive letter.");

    public override string ToString() => Path;
}

/// <summary>What a path is on the machine.</summary>
public enum PathState
{
    Missing,
    File,
    Directory,
}

/// <summary>
/// What <see cref="MountPoints.Resolve"/> needs to know about the machine. <see cref="MachineMountPointProbe"/>
/// asks Windows; tests give their own answers, so the rules run and are tested on every OS.
/// </summary>
public interface IMountPointProbe
{
    /// <summary>The drive letters in use (upper case): disks, network drives, other mounts.</summary>
    IReadOnlySet<char> UsedDriveLetters();

    PathState StateOf(string fullPath);

    /// <summary>Whether the directory <paramref name="fullPath"/> has no entries.</summary>
    bool IsEmptyDirectory(string fullPath);

    /// <summary>The file system of the volume holding <paramref name="fullPath"/> ("NTFS", "FAT32", ...), or null when unknown.</summary>
    string? FileSystemOf(string fullPath);
}

/// <summary>
/// The Windows mount-point forms and their rules, shared by both adapters and the service: a drive letter
/// (<c>M</c>, <c>M:</c>, <c>M:\</c>), nothing or <c>*</c> for the next free letter (from Z: downwards, as WinFsp
/// picks it), or an absolute folder path on an NTFS volume that is empty or does not exist yet.
/// </summary>
public static class MountPoints
{
    /// <summary>The letters the next-free-letter search tries, in order: Z: down to D: (A:-C: are the floppy and system drives).</summary>
    public const string SearchOrder = "ZYXWVUTSRQPONMLKJIHGFED";

    /// <summary>What to write instead of a mount point that is none of the accepted forms.</summary>
    public const string Forms = @"a drive letter (M:), nothing or * for the next free letter, or an empty folder on an NTFS volume (C:\mnt\disk)";

    /// <summary>
    /// A mount point as a client passes it to the service: on Windows a drive letter stays <c>M:</c> and nothing
    /// stays <c>*</c> (the service picks the letter), a folder becomes a full path; elsewhere always a full path.
    /// </summary>
    public static string ForRequest(string? text)
    {
        if (OperatingSystem.IsWindows())
        {
            if (IsNextFreeLetter(text))
            {
                return "*";
            }

            if (DriveLetterOf(text!) is { } letter)
            {
                return $"{letter}:";
            }
        }

        return System.IO.Path.GetFullPath(text ?? throw new ArgumentNullException(nameof(text), "A mount point is needed here."));
    }

    /// <summary>True for nothing, blanks or <c>*</c>: the caller leaves the letter to us.</summary>
    public static bool IsNextFreeLetter(string? text) => string.IsNullOrWhiteSpace(text) || text.Trim() == "*";

    /// <summary>The drive letter of <c>M</c>, <c>M:</c>, <c>M:\</c> or <c>M:/</c> (upper case), or null for any other text.</summary>
    public static char? DriveLetterOf(string text)
    {
        ArgumentNullException.ThrowIfNull(text);
        var span = text.AsSpan().Trim();
        if (span.Length is < 1 or > 3 || !char.IsAsciiLetter(span[0]))
        {
            return null;
        }

        bool letterOnly = span.Length == 1;
        bool withColon = span.Length >= 2 && span[1] == ':' && (span.Length == 2 || span[2] is '\\' or '/');
        return letterOnly || withColon ? char.ToUpperInvariant(span[0]) : null;
    }

    /// <summary>The first letter of <see cref="SearchOrder"/> not in <paramref name="used"/>, or null when all are taken.</summary>
    public static char? NextFreeLetter(IReadOnlySet<char> used)
    {
        ArgumentNullException.ThrowIfNull(used);
        foreach (char letter in SearchOrder)
        {
            if (!used.Contains(letter) && !used.Contains(char.ToLowerInvariant(letter)))
            {
                return letter;
            }
        }

        return null;
    }

    /// <summary>
    /// Resolves what the user wrote to a mount point both adapters can take, or throws <see cref="VolumeException"/>
    /// with one line saying what is wrong: <see cref="VolumeErrorCode.InvalidArgument"/> for a form that is none of
    /// <see cref="Forms"/>, <see cref="VolumeErrorCode.Busy"/> for a letter in use or a folder that is not empty,
    /// <see cref="VolumeErrorCode.NotDirectory"/> for a file, <see cref="VolumeErrorCode.NotFound"/> for a missing
    /// parent folder, <see cref="VolumeErrorCode.NotSupported"/> for a folder on a volume that is not NTFS.
    /// </summary>
    public static WindowsMountPoint Resolve(string? text, IMountPointProbe probe)
    {
        ArgumentNullException.ThrowIfNull(probe);
        if (IsNextFreeLetter(text))
        {
            char free = NextFreeLetter(probe.UsedDriveLetters())
                ?? throw new VolumeException(VolumeErrorCode.Busy, "No drive letter from Z: down to D: is free; name an empty NTFS folder as the mount point instead.");
            return new WindowsMountPoint(WindowsMountPointKind.DriveLetter, $"{free}:");
        }

        string given = text!.Trim();
        if (DriveLetterOf(given) is { } letter)
        {
            return probe.UsedDriveLetters().Contains(letter)
                ? throw new VolumeException(VolumeErrorCode.Busy, $"Drive {letter}: is in use; name a free letter, or none for the next free one (Z: downwards).")
                : new WindowsMountPoint(WindowsMountPointKind.DriveLetter, $"{letter}:");
        }

        return ResolveFolder(given, probe);
    }

    private static WindowsMountPoint ResolveFolder(string given, IMountPointProbe probe)
    {
        // Separators as Windows reads them, then a local absolute path: C:\ followed by at least one name.
        string path = given.Replace('/', '\\');
        if (path.StartsWith(@"\\", StringComparison.Ordinal))
        {
            throw new VolumeException(VolumeErrorCode.InvalidArgument,
                $"'{given}' is a network or device path; a mount point is {Forms}.");
        }

        if (path.Length < 4 || !char.IsAsciiLetter(path[0]) || path[1] != ':' || path[2] != '\\')
        {
            throw new VolumeException(VolumeErrorCode.InvalidArgument, $"'{given}' is not a full path; a mount point is {Forms}.");
        }

        string[] names = path[3..].Split('\\', StringSplitOptions.RemoveEmptyEntries);
        if (names.Length == 0)
        {
            // "C:\\\\": only separators after the root, so a drive letter after all.
            return Resolve(path[..2], probe);
        }

        if (names.Any(n => n is "." or ".." || n.IndexOfAny(InvalidNameCharacters) >= 0))
        {
            throw new VolumeException(VolumeErrorCode.InvalidArgument,
                $"'{given}' has a name Windows does not allow in a folder path (. .. or one of {new string(InvalidNameCharacters)}).");
        }

        string full = char.ToUpperInvariant(path[0]) + @":\" + string.Join('\\', names);
        string parent = full[..full.LastIndexOf('\\')];
        if (parent.Length == 2)
        {
            parent += '\\';
        }

        switch (probe.StateOf(full))
        {
            case PathState.File:
                throw new VolumeException(VolumeErrorCode.NotDirectory, $"Mount point '{full}' is a file; a folder mount point is an empty folder.");
            case PathState.Directory when !probe.IsEmptyDirectory(full):
                throw new VolumeException(VolumeErrorCode.Busy, $"Mount point '{full}' is not empty; a folder mount point must be empty.");
            case PathState.Missing when probe.StateOf(parent) != PathState.Directory:
                throw new VolumeException(VolumeErrorCode.NotFound, $"Mount point '{full}': the folder '{parent}' that would hold it does not exist.");
        }

        string? fileSystem = probe.FileSystemOf(full);
        if (fileSystem is not null && !fileSystem.Equals("NTFS", StringComparison.OrdinalIgnoreCase))
        {
            throw new VolumeException(VolumeErrorCode.NotSupported,
                $"Mount point '{full}' is on a {fileSystem} volume; a folder mount point must be on NTFS (or use a drive letter).");
        }

        return new WindowsMountPoint(WindowsMountPointKind.Folder, full, probe.StateOf(full) == PathState.Directory);
    }

    private static readonly char[] InvalidNameCharacters = ['<', '>', ':', '"', '|', '?', '*'];
}

/// <summary>The real machine's answers for <see cref="MountPoints.Resolve"/> (meant for Windows, where letters exist).</summary>
public sealed class MachineMountPointProbe : IMountPointProbe
{
    public static MachineMountPointProbe Instance { get; } = new();

    public IReadOnlySet<char> UsedDriveLetters()
    {
        var used = new HashSet<char>();
        foreach (string root in Environment.GetLogicalDrives())
        {
            if (MountPoints.DriveLetterOf(root) is { } letter)
            {
                used.Add(letter);
            }
        }

        return used;
    }

    public PathState StateOf(string fullPath) =>
        Directory.Exists(fullPath) ? PathState.Directory : File.Exists(fullPath) ? PathState.File : PathState.Missing;

    public bool IsEmptyDirectory(string fullPath) => !Directory.EnumerateFileSystemEntries(fullPath).Any();

    public string? FileSystemOf(string fullPath)
    {
        try
        {
            return Path.GetPathRoot(fullPath) is { Length: > 0 } root ? new DriveInfo(root).DriveFormat : null;
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException or ArgumentException)
        {
            return null;
        }
    }
}
