using System.Runtime.Versioning;
using Microsoft.Win32;

namespace Qcow2Mount.Mounting.Windows;

/// <summary>
/// Finds the installed Windows drivers the way their own libraries find themselves, without loading them (so the
/// answer does not depend on which adapters this build contains): WinFsp through <c>InstallDir</c> under
/// <c>HKLM\SOFTWARE\WOW6432Node\WinFsp</c> (its installer is 32-bit), Dokany 2.x through <c>dokan2.dll</c> in System32.
/// </summary>
[SupportedOSPlatform("windows")]
public static class InstalledDriversProbe
{
    public static InstalledDrivers Probe() => new(FindWinFsp(), FindDokan());

    private static string? FindWinFsp()
    {
        var folders = new List<string>();
        try
        {
            using var machine = RegistryKey.OpenBaseKey(RegistryHive.LocalMachine, RegistryView.Registry32);
            using var key = machine.OpenSubKey(@"SOFTWARE\WinFsp");
            if (key?.GetValue("InstallDir") is string installDir && installDir.Length > 0)
            {
                folders.Add(installDir);
            }
        }
        catch (Exception e) when (e is System.Security.SecurityException or UnauthorizedAccessException or IOException)
        {
            // An unreadable key is a missing key; the default folder below is still tried.
        }

        if (Environment.GetFolderPath(Environment.SpecialFolder.ProgramFilesX86) is { Length: > 0 } programFiles)
        {
            folders.Add(Path.Combine(programFiles, "WinFsp"));
        }

        return folders.Select(f => Path.Combine(f, "bin", "winfsp-x64.dll")).FirstOrDefault(File.Exists);
    }

    private static string? FindDokan()
    {
        string library = Path.Combine(Environment.GetFolderPath(Environment.SpecialFolder.System), "dokan2.dll");
        return File.Exists(library) ? library : null;
    }
}
