namespace Qcow2Mount.Explorer;

/// <summary>
/// Adds and removes one folder in a Windows <c>Path</c> value (entries separated by <c>;</c>), touching no other
/// entry: the installer puts <c>qcow2mount</c> on the PATH this way, since wixl has no Environment table support.
/// </summary>
public static class PathList
{
    /// <summary>The value with <paramref name="folder"/> appended, or unchanged when it is there already.</summary>
    public static string Add(string? path, string folder)
    {
        ArgumentNullException.ThrowIfNull(folder);
        string entry = Normalize(folder);
        var entries = Split(path);
        if (entries.Any(e => Same(e, entry)))
        {
            return path ?? "";
        }

        string current = (path ?? "").TrimEnd(';');
        return current.Length == 0 ? entry : current + ";" + entry;
    }

    /// <summary>The value without <paramref name="folder"/> (every copy of it), other entries as they were.</summary>
    public static string Remove(string? path, string folder)
    {
        ArgumentNullException.ThrowIfNull(folder);
        string entry = Normalize(folder);
        var entries = Split(path);
        return entries.Any(e => Same(e, entry)) ? string.Join(';', entries.Where(e => !Same(e, entry))) : path ?? "";
    }

    private static List<string> Split(string? path) =>
        (path ?? "").Split(';').Where(e => e.Trim().Length > 0).ToList();

    // Windows compares paths without case and without a trailing backslash ("C:\A\" is "c:\a").
    private static bool Same(string a, string b) =>
        string.Equals(Normalize(a), Normalize(b), StringComparison.OrdinalIgnoreCase);

    private static string Normalize(string folder)
    {
        string trimmed = folder.Trim().Trim('"');
        return trimmed.Length > 3 ? trimmed.TrimEnd('\\') : trimmed;
    }
}
