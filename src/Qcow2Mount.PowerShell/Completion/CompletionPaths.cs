using System.Collections;
using System.Management.Automation;

namespace Qcow2Mount.PowerShell.Completion;

/// <summary>What the completers share: the session's current folder, the image already typed, quoting.</summary>
internal static class CompletionPaths
{
    /// <summary>
    /// The current PowerShell location on the file system. Completers run inside the completing pipeline, on its
    /// thread, so a nested pipeline of the current runspace can ask; outside one (or on no file-system location)
    /// the process's folder stands in.
    /// </summary>
    public static string CurrentFolder()
    {
        try
        {
            using var shell = System.Management.Automation.PowerShell.Create(RunspaceMode.CurrentRunspace);
            shell.AddScript("$ExecutionContext.SessionState.Path.CurrentFileSystemLocation.ProviderPath");
            if (shell.Invoke().FirstOrDefault()?.BaseObject is string { Length: > 0 } here)
            {
                return here;
            }
        }
        catch (Exception e) when (e is PSInvalidOperationException or InvalidOperationException or RuntimeException)
        {
            // No runspace on this thread.
        }

        return Environment.CurrentDirectory;
    }

    /// <summary>
    /// <paramref name="path"/> as typed (quotes and a leading <c>~</c> allowed; a provider-qualified PSPath too),
    /// made absolute against the current location.
    /// </summary>
    public static string Absolute(string path)
    {
        path = Unquote(path);
        int provider = path.IndexOf("::", StringComparison.Ordinal);
        if (provider >= 0)
        {
            path = path[(provider + 2)..];
        }

        if (path == "~" || path.StartsWith("~/", StringComparison.Ordinal) || path.StartsWith("~\\", StringComparison.Ordinal))
        {
            path = Environment.GetFolderPath(Environment.SpecialFolder.UserProfile) + path[1..];
        }

        return Path.GetFullPath(path, CurrentFolder());
    }

    /// <summary>The first image the command line already names in -ImagePath (a string, a file, or a list of them).</summary>
    public static string? BoundImage(IDictionary fakeBoundParameters)
    {
        object? value = fakeBoundParameters.Contains("ImagePath") ? fakeBoundParameters["ImagePath"] : null;
        while (true)
        {
            switch (value)
            {
                case PSObject wrapped:
                    value = wrapped.BaseObject;
                    continue;
                case string text when text.Length > 0:
                    return Absolute(text);
                case FileInfo file:
                    return file.FullName;
                case IEnumerable list and not string:
                    value = list.Cast<object?>().FirstOrDefault();
                    if (value is null)
                    {
                        return null;
                    }

                    continue;
                default:
                    return null;
            }
        }
    }

    public static string Unquote(string word) =>
        word.Length >= 1 && word[0] is '\'' or '"' ? word.Trim(word[0]) : word;

    /// <summary>Single-quotes a completion that PowerShell would otherwise split or expand.</summary>
    public static string Quote(string text) =>
        text.Length == 0 || text.Any(c => char.IsWhiteSpace(c) || "'\"`$&@(){}[];,|<>#".Contains(c, StringComparison.Ordinal))
            ? "'" + text.Replace("'", "''", StringComparison.Ordinal) + "'"
            : text;
}
