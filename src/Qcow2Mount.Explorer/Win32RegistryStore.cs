using System.Runtime.Versioning;
using Microsoft.Win32;

namespace Qcow2Mount.Explorer;

/// <summary>Where registration goes: the current user's classes, or every user's (needs an elevated process).</summary>
public enum RegistrationScope
{
    User,
    Machine,
}

/// <summary><see cref="IRegistryStore"/> over <c>HKCU\Software\Classes</c> or <c>HKLM\Software\Classes</c>.</summary>
[SupportedOSPlatform("windows")]
public sealed class Win32RegistryStore : IRegistryStore, IDisposable
{
    private readonly RegistryKey root;

    public Win32RegistryStore(RegistrationScope scope)
    {
        var hive = scope == RegistrationScope.Machine ? Registry.LocalMachine : Registry.CurrentUser;
        root = hive.CreateSubKey(@"Software\Classes", writable: true);
    }

    public string? GetString(string key, string name)
    {
        using var k = root.OpenSubKey(key);
        return k?.GetValue(name, null, RegistryValueOptions.DoNotExpandEnvironmentNames) as string;
    }

    public void SetString(string key, string name, string data)
    {
        using var k = root.CreateSubKey(key, writable: true);
        k.SetValue(name, data, RegistryValueKind.String);
    }

    public void DeleteValue(string key, string name)
    {
        using var k = root.OpenSubKey(key, writable: true);
        k?.DeleteValue(name, throwOnMissingValue: false);
    }

    public bool IsEmpty(string key)
    {
        using var k = root.OpenSubKey(key);
        return k is not null && k.ValueCount == 0 && k.SubKeyCount == 0;
    }

    public void DeleteKey(string key) => root.DeleteSubKey(key, throwOnMissingSubKey: false);

    public void Dispose() => root.Dispose();
}
