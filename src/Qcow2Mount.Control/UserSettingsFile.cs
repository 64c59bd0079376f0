namespace Qcow2Mount.Control;

/// <summary>
/// Where the per-user settings file lives: the service reads it as one of its configuration layers, and clients
/// read it to find the service's endpoint, so both must agree on one path.
/// </summary>
public static class UserSettingsFile
{
    /// <summary>
    /// <c>%APPDATA%\Qcow2Mount\settings.json</c> on Windows; elsewhere <c>$XDG_CONFIG_HOME/qcow2mount/settings.json</c>
    /// (when set to an absolute path), else <c>~/.config/qcow2mount/settings.json</c>.
    /// </summary>
    public static string DefaultPath() => OperatingSystem.IsWindows()
        ? Path.Combine(Environment.GetFolderPath(Environment.SpecialFolder.ApplicationData), "Qcow2Mount", "settings.json")
        : Path.Combine(
            Environment.GetEnvironmentVariable("XDG_CONFIG_HOME") is { Length: > 0 } xdg && Path.IsPathRooted(xdg)
                ? xdg
                : Path.Combine(Environment.GetFolderPath(Environment.SpecialFolder.UserProfile), ".config"),
            "qcow2mount", "settings.json");
}
