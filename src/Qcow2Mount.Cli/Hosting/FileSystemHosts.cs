using Qcow2Mount.Fuse;
using Qcow2Mount.Mounting;
using Qcow2Mount.Mounting.Windows;
using Qcow2Mount.Service.Configuration;

namespace Qcow2Mount.Cli.Hosting;

/// <summary>
/// The one place the executable chooses its file system adapter: the service (<c>serve</c>) and foreground mounts
/// both take theirs from here, from <c>Mount:FileSystem</c> and what this machine and this build have
/// (<see cref="DriverSelection"/>). Nothing else in the program names an adapter. When nothing can mount, the
/// service still runs with an <see cref="UnavailableFileSystemHost"/>, so <c>mount</c> fails with the one line
/// naming the drivers to install.
/// </summary>
internal static partial class FileSystemHosts
{
    public static IFileSystemHost ForThisSystem(ServiceSettings settings)
    {
        ArgumentNullException.ThrowIfNull(settings);
        var adapters = CompiledAdapters();
        var choice = Choose(settings, adapters);
        if (choice.Driver is FileSystemDrivers.Fuse)
        {
            return new FuseHost();
        }

        return choice.Driver is { } driver && adapters.FirstOrDefault(a => a.Name == driver) is { } adapter
            ? adapter
            : new UnavailableFileSystemHost(settings.Mount.FileSystem, choice.Problem ?? $"no adapter for {choice.Driver}");
    }

    /// <summary>
    /// One line for <c>config</c> and <c>status</c>: the driver mounts use and what is installed, e.g.
    /// <c>winfsp (Mount:FileSystem=auto; installed: winfsp, dokan; adapters in this build: winfsp, dokan)</c>.
    /// </summary>
    public static string Describe(ServiceSettings settings)
    {
        ArgumentNullException.ThrowIfNull(settings);
        var adapters = CompiledAdapters();
        var choice = Choose(settings, adapters);
        string used = choice.Driver ?? $"none ({choice.Problem})";
        if (!OperatingSystem.IsWindows())
        {
            return $"{used} (Mount:FileSystem={settings.Mount.FileSystem})";
        }

        string compiled = adapters.Count == 0 ? "none" : string.Join(", ", adapters.Select(a => a.Name));
        return $"{used} (Mount:FileSystem={settings.Mount.FileSystem}; installed: {Installed()}; adapters in this build: {compiled})";
    }

    /// <summary>The Windows drivers installed here ("none" elsewhere, where FUSE is the only choice).</summary>
    public static InstalledDrivers Installed() => OperatingSystem.IsWindows() ? InstalledDriversProbe.Probe() : InstalledDrivers.None;

    private static DriverChoice Choose(ServiceSettings settings, IReadOnlyList<IFileSystemHost> adapters) =>
        DriverSelection.Choose(settings.Mount.FileSystem, OperatingSystem.IsWindows(), Installed(), [.. adapters.Select(a => a.Name)]);

    /// <summary>The Windows adapters compiled into this build (none where their packages did not restore).</summary>
    private static List<IFileSystemHost> CompiledAdapters()
    {
        var adapters = new List<IFileSystemHost>();
        if (OperatingSystem.IsWindows())
        {
            AddWindowsAdapters(adapters);
        }

        return adapters;
    }

    /// <summary>
    /// Implemented in a file the build includes only together with the WinFsp and Dokan adapter projects (it adds
    /// their hosts); without it the call compiles away and Windows has no adapter.
    /// </summary>
    static partial void AddWindowsAdapters(List<IFileSystemHost> adapters);
}
