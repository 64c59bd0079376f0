namespace Qcow2Mount.Mounting.Windows;

/// <summary>
/// Windows file name matching (FsRtlIsNameInExpression, ignoring case): <c>*</c> and <c>?</c>, plus the DOS
/// wildcards the Win32 layer sends for patterns like <c>*.</c> and <c>name?.txt</c>:
/// <c>&lt;</c> (DOS_STAR), <c>&gt;</c> (DOS_QM) and <c>"</c> (DOS_DOT).
/// </summary>
/// <remarks>
/// Runs in O(pattern × name) time: it tracks the set of name positions each pattern prefix can reach, never
/// backtracking. (A recursive matcher takes exponential time on patterns like <c>*a*a*a*a*a*a*b</c>, and the pattern
/// comes from whoever lists the drive.)
/// </remarks>
public static class WindowsNamePattern
{
    /// <summary>True when <paramref name="name"/> matches; a null, empty or "*" pattern matches everything.</summary>
    public static bool IsMatch(string name, string? pattern)
    {
        ArgumentNullException.ThrowIfNull(name);
        if (string.IsNullOrEmpty(pattern) || pattern == "*")
        {
            return true;
        }

        int length = name.Length;
        Span<bool> reached = length < 512 ? stackalloc bool[length + 1] : new bool[length + 1];
        Span<bool> next = length < 512 ? stackalloc bool[length + 1] : new bool[length + 1];
        reached.Clear();
        reached[0] = true;
        int lastDot = name.LastIndexOf('.');
        foreach (char c in pattern)
        {
            next.Clear();
            bool any = false;
            switch (c)
            {
                case '*':
                    // Any run of characters: every position at or after a reached one.
                    for (int n = 0; n <= length; n++)
                    {
                        any |= reached[n];
                        next[n] = any;
                    }

                    break;
                case '<':
                    // Any run of characters that does not consume the name's last dot: from a position at or before
                    // that dot up to the dot, from one after it (no dot left to protect) up to the end.
                    bool beforeDot = false, afterDot = false;
                    for (int n = 0; n <= length; n++)
                    {
                        if (reached[n])
                        {
                            if (n <= lastDot)
                            {
                                beforeDot = true;
                            }
                            else
                            {
                                afterDot = true;
                            }
                        }

                        next[n] = (beforeDot && n <= lastDot) || afterDot;
                        any |= next[n];
                    }

                    break;
                default:
                    for (int n = 0; n <= length; n++)
                    {
                        if (reached[n] && Step(c, name, n) is int to and >= 0)
                        {
                            next[to] = true;
                            any = true;
                        }
                    }

                    break;
            }

            if (!any)
            {
                return false;
            }

            next.CopyTo(reached);
        }

        return reached[length];
    }

    /// <summary>Where one single-position pattern character leads from name position <paramref name="n"/>; -1: no match.</summary>
    private static int Step(char c, string name, int n) => c switch
    {
        // One character, or nothing at a dot or at the end of the name.
        '>' => n < name.Length && name[n] != '.' ? n + 1 : n,
        // A dot, or nothing at the end of the name.
        '"' => n < name.Length ? (name[n] == '.' ? n + 1 : -1) : n,
        '?' => n < name.Length ? n + 1 : -1,
        _ => n < name.Length && char.ToUpperInvariant(c) == char.ToUpperInvariant(name[n]) ? n + 1 : -1,
    };
}
