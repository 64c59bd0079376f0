namespace Qcow2Mount.Mounting.Windows;

/// <summary>
/// Windows file name matching (FsRtlIsNameInExpression, ignoring case): <c>*</c> and <c>?</c>, plus the DOS
/// wildcards the Win32 layer sends for patterns like <c>*.</c> and <c>name?.txt</c>:
/// <c>&lt;</c> (DOS_STAR), <c>&gt;</c> (DOS_QM) and <c>"</c> (DOS_DOT).
/// </summary>
public static class WindowsNamePattern
{
    /// <summary>True when <paramref name="name"/> matches; a null, empty or "*" pattern matches everything.</summary>
    public static bool IsMatch(string name, string? pattern) =>
        string.IsNullOrEmpty(pattern) || pattern == "*" || Matches(pattern, 0, name, 0);

    private static bool Matches(string pattern, int p, string name, int n)
    {
        while (p < pattern.Length)
        {
            switch (pattern[p])
            {
                case '*':
                    for (int k = n; k <= name.Length; k++)
                    {
                        if (Matches(pattern, p + 1, name, k))
                        {
                            return true;
                        }
                    }

                    return false;
                case '<':
                    // Any run of characters that does not consume the name's last dot.
                    int lastDot = name.LastIndexOf('.');
                    int limit = lastDot >= n ? lastDot : name.Length;
                    for (int k = n; k <= limit; k++)
                    {
                        if (Matches(pattern, p + 1, name, k))
                        {
                            return true;
                        }
                    }

                    return false;
                case '>':
                    // One character, or nothing at a dot or at the end of the name.
                    if (n < name.Length && name[n] != '.')
                    {
                        n++;
                    }

                    p++;
                    break;
                case '"':
                    // A dot, or nothing at the end of the name.
                    if (n < name.Length && name[n] == '.')
                    {
                        n++;
                    }
                    else if (n < name.Length)
                    {
                        return false;
                    }

                    p++;
                    break;
                case '?':
                    if (n >= name.Length)
                    {
                        return false;
                    }

                    n++;
                    p++;
                    break;
                default:
                    if (n >= name.Length || char.ToUpperInvariant(pattern[p]) != char.ToUpperInvariant(name[n]))
                    {
                        return false;
                    }

                    n++;
                    p++;
                    break;
            }
        }

        return n == name.Length;
    }
}
