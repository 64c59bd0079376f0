namespace Qcow2Mount.Mounting.Windows;

/// <summary>
/// The names of <c>Mount:FileSystem</c> and the texts users see about drivers: where to get them, and the notice
/// WinFsp's licence (GPLv3 with its FLOSS exception) asks for wherever the product says what it uses.
/// </summary>
public static class FileSystemDrivers
{
    public const string Auto = "auto";
    public const string WinFsp = "winfsp";
    public const string Dokan = "dokan";
    public const string Fuse = "fuse";

    /// <summary>Every value <c>Mount:FileSystem</c> takes.</summary>
    public static IReadOnlyList<string> Names { get; } = [Auto, WinFsp, Dokan, Fuse];

    public const string WinFspDownload = "https://winfsp.dev/rel/";
    public const string DokanDownload = "https://github.com/dokan-dev/dokany/releases";

    /// <summary>The one line a Windows user reads when no driver can mount.</summary>
    public const string NoWindowsDriver =
        $"neither WinFsp nor Dokany 2.x is installed; install WinFsp ({WinFspDownload}) or Dokany 2.x ({DokanDownload}) and mount again";

    /// <summary>The notice WinFsp's licence asks for in the user interface and documentation.</summary>
    public const string WinFspNotice = "WinFsp - Windows File System Proxy, Copyright (C) Bill Zissimopoulos, https://github.com/winfsp/winfsp";

    /// <summary>The value of <c>Mount:FileSystem</c> in canonical form, or null when it is none of <see cref="Names"/>.</summary>
    public static string? Parse(string? text)
    {
        string value = string.IsNullOrWhiteSpace(text) ? Auto : text.Trim().ToLowerInvariant();
        return Names.Contains(value) ? value : null;
    }
}

/// <summary>Which Windows drivers this machine has: the path of the library that proves each one, or null.</summary>
/// <param name="WinFspLibrary">WinFsp's <c>winfsp-x64.dll</c> (found through WinFsp's install folder in the registry).</param>
/// <param name="DokanLibrary">Dokany 2.x's <c>dokan2.dll</c> (in System32).</param>
public sealed record InstalledDrivers(string? WinFspLibrary, string? DokanLibrary)
{
    public static InstalledDrivers None { get; } = new(null, null);

    public bool WinFsp => WinFspLibrary is not null;
    public bool Dokan => DokanLibrary is not null;

    /// <summary>"winfsp, dokan", "winfsp", "dokan" or "none".</summary>
    public override string ToString() =>
        (WinFsp, Dokan) switch
        {
            (true, true) => $"{FileSystemDrivers.WinFsp}, {FileSystemDrivers.Dokan}",
            (true, false) => FileSystemDrivers.WinFsp,
            (false, true) => FileSystemDrivers.Dokan,
            _ => "none",
        };
}

/// <summary>The outcome of <see cref="DriverSelection.Choose"/>: the adapter to mount with, or one line saying why none can.</summary>
/// <param name="Driver">"winfsp", "dokan" or "fuse"; null when none can mount.</param>
/// <param name="Problem">Why none can (one line, no trailing period), when <paramref name="Driver"/> is null.</param>
public sealed record DriverChoice(string? Driver, string? Problem)
{
    public static DriverChoice Use(string driver) => new(driver, null);

    public static DriverChoice Refuse(string problem) => new(null, problem);
}

/// <summary>
/// <c>Mount:FileSystem</c> to a driver: <c>auto</c> takes FUSE on Linux, and on Windows WinFsp when it is installed,
/// else Dokany 2.x. A named driver is taken or refused with the reason; a driver counts only when its adapter was
/// compiled into this build (the adapters need packages some build machines cannot restore).
/// </summary>
public static class DriverSelection
{
    /// <param name="configured">The <c>Mount:FileSystem</c> value (any case; blank means auto).</param>
    /// <param name="onWindows">Whether this runs on Windows.</param>
    /// <param name="installed">The Windows drivers installed (ignored elsewhere).</param>
    /// <param name="compiledAdapters">The Windows adapters this build contains ("winfsp", "dokan").</param>
    public static DriverChoice Choose(string? configured, bool onWindows, InstalledDrivers installed, IReadOnlyCollection<string> compiledAdapters)
    {
        ArgumentNullException.ThrowIfNull(installed);
        ArgumentNullException.ThrowIfNull(compiledAdapters);
        string? wanted = FileSystemDrivers.Parse(configured);
        if (wanted is null)
        {
            return DriverChoice.Refuse($"Mount:FileSystem is '{configured}'; it must be one of {string.Join(", ", FileSystemDrivers.Names)}");
        }

        if (!onWindows)
        {
            return wanted is FileSystemDrivers.Auto or FileSystemDrivers.Fuse
                ? DriverChoice.Use(FileSystemDrivers.Fuse)
                : DriverChoice.Refuse($"Mount:FileSystem={wanted} needs Windows; here use {FileSystemDrivers.Auto} or {FileSystemDrivers.Fuse}");
        }

        return wanted switch
        {
            FileSystemDrivers.Fuse => DriverChoice.Refuse(
                $"Mount:FileSystem={FileSystemDrivers.Fuse} is for Linux; on Windows use {FileSystemDrivers.Auto}, {FileSystemDrivers.WinFsp} or {FileSystemDrivers.Dokan}"),
            FileSystemDrivers.WinFsp => Named(FileSystemDrivers.WinFsp, installed.WinFsp, compiledAdapters),
            FileSystemDrivers.Dokan => Named(FileSystemDrivers.Dokan, installed.Dokan, compiledAdapters),
            _ => Automatic(installed, compiledAdapters),
        };
    }

    private static DriverChoice Automatic(InstalledDrivers installed, IReadOnlyCollection<string> compiled)
    {
        if (!installed.WinFsp && !installed.Dokan)
        {
            return DriverChoice.Refuse(FileSystemDrivers.NoWindowsDriver);
        }

        if (installed.WinFsp && compiled.Contains(FileSystemDrivers.WinFsp))
        {
            return DriverChoice.Use(FileSystemDrivers.WinFsp);
        }

        if (installed.Dokan && compiled.Contains(FileSystemDrivers.Dokan))
        {
            return DriverChoice.Use(FileSystemDrivers.Dokan);
        }

        return DriverChoice.Refuse($"{Display(installed)} installed, but this build of qcow2mount has no adapter for it ({NotCompiled})");
    }

    private static DriverChoice Named(string driver, bool isInstalled, IReadOnlyCollection<string> compiled)
    {
        if (!isInstalled)
        {
            string download = driver == FileSystemDrivers.WinFsp ? FileSystemDrivers.WinFspDownload : FileSystemDrivers.DokanDownload;
            return DriverChoice.Refuse(
                $"Mount:FileSystem={driver}, but {DisplayName(driver)} is not installed; install it ({download}) or set Mount:FileSystem={FileSystemDrivers.Auto}");
        }

        return compiled.Contains(driver)
            ? DriverChoice.Use(driver)
            : DriverChoice.Refuse($"{DisplayName(driver)} is installed, but this build of qcow2mount has no adapter for it ({NotCompiled})");
    }

    private const string NotCompiled = "it was built where the DokanNet and winfsp.net packages did not restore; build it on Windows with build.ps1";

    private static string DisplayName(string driver) => driver == FileSystemDrivers.WinFsp ? "WinFsp" : "Dokany 2.x";

    private static string Display(InstalledDrivers installed) => installed.WinFsp && installed.Dokan
        ? "WinFsp and Dokany 2.x are"
        : $"{DisplayName(installed.WinFsp ? FileSystemDrivers.WinFsp : FileSystemDrivers.Dokan)} is";
}

/// <summary>
/// An adapter stand-in for when no driver can mount: the service still runs (status, list, stop work) and every
/// mount is refused with the <see cref="DriverChoice.Problem"/> line.
/// </summary>
/// <param name="name">What <c>status</c> shows as the file system: the configured <c>Mount:FileSystem</c>.</param>
/// <param name="problem">Why nothing can mount (one line).</param>
public sealed class UnavailableFileSystemHost(string name, string problem) : IFileSystemHost
{
    public string Name => name;

    public string Problem => problem;

    public bool IsAvailable(out string reason)
    {
        reason = problem;
        return false;
    }

    /// <summary>No mount point is usable without a driver: the same one line as the mount.</summary>
    public void CheckMountPoint(string mountPoint) => throw new VolumeException(VolumeErrorCode.NotSupported, problem);

    public IMountedFileSystem Mount(Volume volume, string mountPoint, MountOptions options) =>
        throw new VolumeException(VolumeErrorCode.NotSupported, problem);
}
