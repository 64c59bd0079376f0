using System.Runtime.Versioning;
using Microsoft.Win32;

namespace Qcow2Mount.Explorer;

/// <summary>The machine-wide <c>Path</c> (HKLM), edited through <see cref="PathList"/>; needs an elevated process.</summary>
[SupportedOSPlatform("windows")]
public static class MachinePath
{
    private const string EnvironmentKey = @"SYSTEM\CurrentControlSet\Control\Session Manager\Environment";

    public static void Add(string folder) => Update(path => PathList.Add(path, folder));

    public static void Remove(string folder) => Update(path => PathList.Remove(path, folder));

    public static string? Read()
    {
        using var key = Registry.LocalMachine.OpenSubKey(EnvironmentKey);
        return key?.GetValue("Path", null, RegistryValueOptions.DoNotExpandEnvironmentNames) as string;
    }

    private static void Update(Func<string?, string> change)
    {
        using var key = Registry.LocalMachine.CreateSubKey(EnvironmentKey, writable: true);
        // Keep %SystemRoot% and friends unexpanded, and the value's kind (REG_EXPAND_SZ on Windows).
        var current = key.GetValue("Path", null, RegistryValueOptions.DoNotExpandEnvironmentNames) as string;
        string updated = change(current);
        if (updated == current)
        {
            return;
        }

        var kind = current is null ? RegistryValueKind.ExpandString : key.GetValueKind("Path");
        key.SetValue("Path", updated, kind == RegistryValueKind.String ? RegistryValueKind.String : RegistryValueKind.ExpandString);
        ShellNotifications.EnvironmentChanged();
    }
}
