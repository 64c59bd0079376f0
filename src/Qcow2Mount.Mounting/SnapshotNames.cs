using System.Text;

namespace Qcow2Mount.Mounting;

/// <summary>
/// Turns snapshot names (any bytes a qcow2 image holds) into file names valid on both Windows and Linux,
/// unique without regard to case, so every snapshot gets its own file on every OS.
/// </summary>
internal static class SnapshotNames
{
    /// <summary>Linux limits a name to 255 UTF-8 bytes; keep room for a "~NN" suffix and ".raw".</summary>
    private const int MaxBaseUtf8Bytes = 240;

    private static readonly string[] ReservedOnWindows =
    [
        "CON", "PRN", "AUX", "NUL",
        "COM1", "COM2", "COM3", "COM4", "COM5", "COM6", "COM7", "COM8", "COM9",
        "LPT1", "LPT2", "LPT3", "LPT4", "LPT5", "LPT6", "LPT7", "LPT8", "LPT9",
    ];

    /// <summary>File names (with ".raw") for <paramref name="names"/>, in the same order.</summary>
    public static IReadOnlyList<string> ToFileNames(IEnumerable<string> names)
    {
        var taken = new HashSet<string>(StringComparer.OrdinalIgnoreCase);
        var result = new List<string>();
        foreach (string name in names)
        {
            string stem = Sanitize(name);
            string fileName = stem + ".raw";
            for (int n = 2; !taken.Add(fileName); n++)
            {
                fileName = $"{stem}~{n}.raw";
            }

            result.Add(fileName);
        }

        return result;
    }

    internal static string Sanitize(string name)
    {
        var builder = new StringBuilder(name.Length);
        foreach (char c in name)
        {
            builder.Append(c < 32 || c == 127 || "<>:\"/\\|?*".Contains(c) ? '_' : c);
        }

        // Windows drops trailing dots and spaces, which would make two names collide or a name vanish.
        string stem = TrimToUtf8Bytes(builder.ToString().Trim().TrimEnd('.', ' '), MaxBaseUtf8Bytes);
        if (stem.Length == 0)
        {
            return "snapshot";
        }

        string beforeDot = stem.Split('.')[0].TrimEnd(' ');
        return ReservedOnWindows.Contains(beforeDot, StringComparer.OrdinalIgnoreCase) ? "_" + stem : stem;
    }

    private static string TrimToUtf8Bytes(string text, int maxBytes)
    {
        if (Encoding.UTF8.GetByteCount(text) <= maxBytes)
        {
            return text;
        }

        int length = 0;
        int bytes = 0;
        foreach (Rune rune in text.EnumerateRunes())
        {
            bytes += rune.Utf8SequenceLength;
            if (bytes > maxBytes)
            {
                break;
            }

            length += rune.Utf16SequenceLength;
        }

        return text[..length].TrimEnd('.', ' ');
    }
}
