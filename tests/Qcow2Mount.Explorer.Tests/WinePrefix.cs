using System.Text.RegularExpressions;

namespace Qcow2Mount.Explorer.Tests;

/// <summary>
/// A throw-away Wine prefix (a Windows installation in a folder) and the commands run in it. Exit codes reach us as
/// their low 8 bits only (1603 arrives as 67); winedbg is disabled so a crash is an exit code, not a debugger.
/// </summary>
internal sealed partial class WinePrefix : IDisposable
{
    private readonly Dictionary<string, string> environment;

    private WinePrefix(string folder)
    {
        Folder = folder;
        environment = new Dictionary<string, string>
        {
            ["WINEPREFIX"] = folder,
            ["WINEDEBUG"] = "-all",
            // Not mscoree: Wine loads IL-only DLLs (System.Runtime.dll of a self-contained .NET app) through it.
            ["WINEDLLOVERRIDES"] = "winedbg.exe=d",
        };
    }

    public string Folder { get; }

    public string DriveC => Path.Combine(Folder, "drive_c");

    /// <summary>A new prefix reporting Windows 10, or an ignored test when wine is not installed.</summary>
    public static WinePrefix Create()
    {
        if (!Tools.Exists("wine") || !Tools.Exists("wineserver"))
        {
            Assert.Ignore("wine not installed: apt-get install wine64 (the MSI tests run Windows Installer under Wine)");
        }

        var prefix = new WinePrefix(Path.Combine(Path.GetTempPath(), "qcow2mount-wine-" + Guid.NewGuid().ToString("N")[..12]));
        var (exit, _, error) = Tools.Run("wineboot", ["-i"], prefix.environment, TimeSpan.FromMinutes(3));
        Assert.That(exit, Is.Zero, $"wineboot -i: {error}");
        prefix.Wine("winecfg", "/v", "win10");
        prefix.WaitForIdle();
        return prefix;
    }

    /// <summary>A Linux path as Windows programs in the prefix see it (drive Z: is the Linux root).</summary>
    public static string WindowsPath(string linuxPath) => "Z:" + Path.GetFullPath(linuxPath).Replace('/', '\\');

    public (int ExitCode, string Output, string Error) Wine(params string[] args) => Wine(null, args);

    public (int ExitCode, string Output, string Error) Wine(IReadOnlyDictionary<string, string>? extra, params string[] args)
    {
        var env = new Dictionary<string, string>(environment);
        foreach (var (key, value) in extra ?? new Dictionary<string, string>())
        {
            env[key] = value;
        }

        return Tools.Run("wine", args, env);
    }

    /// <summary>Waits until every program in the prefix has ended and the registry is saved to its files.</summary>
    public void WaitForIdle()
    {
        var (exit, _, error) = Tools.Run("wineserver", ["-w"], environment, TimeSpan.FromMinutes(2));
        Assert.That(exit, Is.Zero, $"wineserver -w: {error}");
    }

    /// <summary>Every value under <paramref name="key"/> and its subkeys, as (key below <paramref name="key"/>, name, data); "" names the default value.</summary>
    public HashSet<(string Key, string Name, string Data)>? RegistryTree(string key)
    {
        var (exit, output, _) = Wine("reg", "query", key, "/s");
        if (exit != 0)
        {
            return null;
        }

        // reg prints keys with their root spelled out.
        string full = key.Replace(@"HKLM\", @"HKEY_LOCAL_MACHINE\", StringComparison.OrdinalIgnoreCase)
            .Replace(@"HKCU\", @"HKEY_CURRENT_USER\", StringComparison.OrdinalIgnoreCase);
        var values = new HashSet<(string, string, string)>();
        string current = "";
        foreach (string line in output.Split('\n'))
        {
            if (line.StartsWith("HKEY_", StringComparison.Ordinal))
            {
                current = line.Length > full.Length ? line[(full.Length + 1)..] : "";
            }
            else if (RegistryValueLine().Match(line) is { Success: true } m)
            {
                string name = m.Groups["name"].Value == "(Default)" ? "" : m.Groups["name"].Value;
                values.Add((current, name, m.Groups["data"].Value));
            }
        }

        return values;
    }

    /// <summary>The data of one value, or null when it does not exist.</summary>
    public string? RegistryValue(string key, string name)
    {
        var (exit, output, _) = Wine("reg", "query", key, "/v", name);
        return exit != 0 ? null : output.Split('\n').Select(l => RegistryValueLine().Match(l)).FirstOrDefault(m => m.Success)?.Groups["data"].Value;
    }

    /// <summary>What the prefix holds: every file and folder below drive_c, and every registry key (saved registry files).</summary>
    public (HashSet<string> Files, HashSet<string> Keys, string Registry) Snapshot()
    {
        WaitForIdle();
        // Not through symbolic links: Wine links the user's Documents, Desktop... to the Linux home folder.
        var walk = new EnumerationOptions { RecurseSubdirectories = true, AttributesToSkip = FileAttributes.ReparsePoint, IgnoreInaccessible = true };
        var files = Directory.EnumerateFileSystemEntries(DriveC, "*", walk)
            .Select(p => Path.GetRelativePath(DriveC, p)).ToHashSet(StringComparer.OrdinalIgnoreCase);
        string registry = File.ReadAllText(Path.Combine(Folder, "system.reg")) + File.ReadAllText(Path.Combine(Folder, "user.reg"));
        var keys = registry.Split('\n').Where(l => l.StartsWith('[')).Select(l => KeyHeader().Replace(l, "$1")).ToHashSet(StringComparer.OrdinalIgnoreCase);
        return (files, keys, registry);
    }

    public void Dispose()
    {
        Tools.Run("wineserver", ["-k"], environment, TimeSpan.FromMinutes(1));
        try
        {
            Directory.Delete(Folder, recursive: true);
        }
        catch (IOException)
        {
            // A process that outlived wineserver -k; the temp folder is cleaned up by the machine.
        }
    }

    [GeneratedRegex(@"^    (?<name>.+?)    REG_[A-Z_]+    (?<data>.*)$")]
    private static partial Regex RegistryValueLine();

    [GeneratedRegex(@"^\[(.*)\].*$")]
    private static partial Regex KeyHeader();
}
