namespace Qcow2Mount.PowerShell.Hosting;

/// <summary>
/// The qcow2mount executable that runs the mount service. Mounts go through the service, as <c>qcow2mount mount</c>'s
/// do, and when none is running the module starts one; inside pwsh the running program is pwsh, so the module
/// names the executable itself. In order: the QCOW2MOUNT_EXECUTABLE environment variable (a path); the
/// <c>service</c> folder of the installed module (where <c>build.ps1 publish</c> lays it); qcow2mount on PATH.
/// </summary>
internal static class ServiceExecutable
{
    public const string Variable = "QCOW2MOUNT_EXECUTABLE";

    private static readonly string FileName = OperatingSystem.IsWindows() ? "qcow2mount.exe" : "qcow2mount";

    /// <summary>The executable's full path, or null with <paramref name="searched"/> saying where it looked.</summary>
    public static string? Find(out string searched)
    {
        if (Environment.GetEnvironmentVariable(Variable) is { Length: > 0 } named)
        {
            searched = $"${Variable} ({named})";
            return File.Exists(named) ? Path.GetFullPath(named) : null;
        }

        string moduleFolder = Path.GetDirectoryName(typeof(ServiceExecutable).Assembly.Location) ?? AppContext.BaseDirectory;
        string beside = Path.Combine(moduleFolder, "service", FileName);
        searched = $"${Variable}, {beside}, PATH";
        if (File.Exists(beside))
        {
            return beside;
        }

        foreach (string folder in (Environment.GetEnvironmentVariable("PATH") ?? "").Split(Path.PathSeparator, StringSplitOptions.RemoveEmptyEntries))
        {
            string candidate = Path.Combine(folder.Trim('"'), FileName);
            if (File.Exists(candidate))
            {
                return candidate;
            }
        }

        return null;
    }
}
