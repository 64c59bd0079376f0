using Qcow2Mount.Dokan;
using Qcow2Mount.Mounting;
using Qcow2Mount.WinFsp;

namespace Qcow2Mount.Cli.Hosting;

/// <summary>The WinFsp and Dokan adapters, compiled in only where their packages restore (Qcow2MountWindowsAdapters).</summary>
internal static partial class FileSystemHosts
{
    static partial void AddWindowsAdapters(List<IFileSystemHost> adapters)
    {
        adapters.Add(new WinFspHost(Log));
        adapters.Add(new DokanHost(Log));
    }

    /// <summary>What an adapter reports beyond the volume's own errors (bugs, exceptions in callbacks) goes to standard error, which the service logs.</summary>
    private static void Log(string line) => Console.Error.WriteLine($"qcow2mount: {line}");
}
