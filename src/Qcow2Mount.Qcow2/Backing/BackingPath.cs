namespace Qcow2Mount.Qcow2.Backing;

/// <summary>Resolves backing and data file names the way QEMU does: relative names against the image's folder.</summary>
public static class BackingPath
{
    public static string Resolve(string imagePath, string name)
    {
        ArgumentNullException.ThrowIfNull(name);
        if (name.Contains('\0', StringComparison.Ordinal))
        {
            throw new Qcow2Exception(Qcow2ErrorCode.InvalidHeader, $"{imagePath}: file name '{name.Replace('\0', '?')}' contains a NUL byte");
        }

        if (name.Contains("://", StringComparison.Ordinal) || name.StartsWith("json:", StringComparison.Ordinal))
        {
            throw new Qcow2Exception(Qcow2ErrorCode.Unsupported, $"backing file '{name}' uses a protocol this tool does not support");
        }

        // Windows accepts both separators and drive letters; on Linux a backslash is an ordinary character.
        if (Path.IsPathRooted(name))
        {
            return Path.GetFullPath(name);
        }

        string directory = Path.GetDirectoryName(Path.GetFullPath(imagePath)) ?? ".";
        return Path.GetFullPath(Path.Combine(directory, name));
    }
}
