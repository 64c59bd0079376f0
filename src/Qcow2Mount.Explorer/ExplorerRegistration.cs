namespace Qcow2Mount.Explorer;

/// <summary>
/// The Explorer registration of <c>.qcow2</c> images, as data: the keys <c>qcow2mount register</c> writes, and the
/// rows the MSI's Registry table must hold (its tests compare the two). Double-click runs the default verb, mount
/// read-only, as Windows' own Mount verb does for .iso and .vhdx files.
/// </summary>
public static class ExplorerRegistration
{
    public const string Extension = ".qcow2";
    public const string ProgId = "Qcow2Mount.Image";
    public const string TypeName = "QCOW2 disk image";

    /// <summary>The windowless launcher the verbs run (no console window flashes).</summary>
    public const string LauncherFileName = "qcow2mountw.exe";

    /// <summary>The icon file of <c>.qcow2</c> files, installed beside the executables.</summary>
    public const string FileIconName = "qcow2-file.ico";

    /// <summary>The verb a double-click runs.</summary>
    public const string DefaultVerb = "mount";

    /// <summary>The verbs, in menu order; the launcher accepts exactly these argument lists.</summary>
    public static IReadOnlyList<ExplorerVerb> Verbs { get; } =
    [
        new(DefaultVerb, "Mount (read-only)", "mount"),
        new("mountwritable", "Mount writable", "mount --writable"),
        new("mountoverlay", "Mount with overlay (image untouched)", "mount --overlay"),
        new("unmount", "Unmount", "unmount"),
    ];

    /// <summary>
    /// Every value, for executables and icon in <paramref name="installDirectory"/> (a folder path ending with a
    /// backslash, or the MSI's <c>[INSTALLDIR]</c>). Keys before their subkeys.
    /// </summary>
    public static IReadOnlyList<RegistryValue> Values(string installDirectory)
    {
        ArgumentException.ThrowIfNullOrEmpty(installDirectory);
        if (!installDirectory.EndsWith('\\') && !installDirectory.EndsWith(']'))
        {
            throw new ArgumentException($"the install directory must end with a backslash: {installDirectory}", nameof(installDirectory));
        }

        string launcher = installDirectory + LauncherFileName;
        var values = new List<RegistryValue>
        {
            new(Extension, "", ProgId),
            new($@"{Extension}\OpenWithProgids", ProgId, ""),
            new(ProgId, "", TypeName),
            new($@"{ProgId}\DefaultIcon", "", installDirectory + FileIconName),
            new($@"{ProgId}\shell", "", DefaultVerb),
        };
        foreach (var verb in Verbs)
        {
            values.Add(new($@"{ProgId}\shell\{verb.Id}", "MUIVerb", verb.Text));
            // Always quoted: image paths have spaces.
            values.Add(new($@"{ProgId}\shell\{verb.Id}\command", "", $"\"{launcher}\" {verb.Arguments} \"%1\""));
        }

        return values;
    }

    /// <summary>
    /// The keys registration creates, deepest first: what unregistering deletes once they hold nothing of anyone
    /// else's. <c>.qcow2</c> itself is shared with other programs and is deleted only when empty.
    /// </summary>
    public static IReadOnlyList<string> Keys(string installDirectory) =>
        Values(installDirectory).Select(v => v.Key).Distinct(StringComparer.OrdinalIgnoreCase)
            .OrderByDescending(k => k.Count(c => c == '\\')).ThenBy(k => k, StringComparer.OrdinalIgnoreCase).ToList();
}
