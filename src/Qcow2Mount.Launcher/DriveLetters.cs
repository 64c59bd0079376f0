namespace Qcow2Mount.Launcher;

/// <summary>Where a mount from Explorer appears: the first free drive letter from Z: down, as WinFsp picks one.</summary>
internal static class DriveLetters
{
    public static string NextFree(IEnumerable<string> usedRoots)
    {
        var used = new HashSet<char>(usedRoots.Where(r => r.Length > 0).Select(r => char.ToUpperInvariant(r[0])));
        for (char letter = 'Z'; letter >= 'D'; letter--)
        {
            if (!used.Contains(letter))
            {
                return $"{letter}:\\";
            }
        }

        throw new IOException("every drive letter from D: to Z: is in use; unmount or disconnect a drive first");
    }

    public static string NextFree() => NextFree(DriveInfo.GetDrives().Select(d => d.Name));
}
