using System.Runtime.InteropServices;
using System.Text;
using Qcow2Mount.Fuse.Native;
using Qcow2Mount.Mounting;

namespace Qcow2Mount.Fuse;

/// <summary>Linux mount points, read from /proc/self/mountinfo so a hung file system is never touched.</summary>
internal static class MountTable
{
    /// <summary>One mountinfo line: the device ("0:52") and the file system type ("fuse.qcow2mount").</summary>
    internal sealed record Entry(string Device, string FileSystemType);

    /// <summary>The topmost mount at exactly <paramref name="path"/>, or null.</summary>
    public static Entry? Find(string path)
    {
        Entry? found = null;
        foreach (string line in File.ReadLines("/proc/self/mountinfo"))
        {
            // "36 35 98:0 /root /mnt/point rw,noatime shared:1 - ext4 /dev/sda1 rw"
            string[] fields = line.Split(' ');
            int separator = Array.IndexOf(fields, "-");
            if (fields.Length > 4 && separator > 4 && separator + 1 < fields.Length && Unescape(fields[4]) == path)
            {
                found = new Entry(fields[2], fields[separator + 1]);
            }
        }

        return found;
    }

    /// <summary>
    /// The full, symlink-free path of a usable mount point, or a one-line <see cref="VolumeException"/>: NotFound,
    /// NotDirectory, or Busy when something is already mounted there.
    /// </summary>
    public static string Check(string mountPoint)
    {
        string full = Path.TrimEndingDirectorySeparator(Path.GetFullPath(mountPoint));
        ThrowIfMounted(full);
        if (!Directory.Exists(full))
        {
            throw File.Exists(full)
                ? new VolumeException(VolumeErrorCode.NotDirectory, $"Mount point '{full}' is a file, not a directory.")
                : new VolumeException(VolumeErrorCode.NotFound, $"Mount point '{full}' does not exist.");
        }

        string real = RealPath(full);
        ThrowIfMounted(real);
        return real;
    }

    /// <summary>
    /// Cuts the kernel's FUSE connection <paramref name="entry"/> (fusectl's abort; it works after a lazy detach too):
    /// pending and future requests fail with ENOTCONN and the serving loop ends. False when fusectl is unavailable.
    /// </summary>
    public static bool TryAbortConnection(Entry entry)
    {
        if (!entry.FileSystemType.StartsWith("fuse", StringComparison.Ordinal))
        {
            return false;
        }

        // fusectl names a connection by the device number, which for FUSE's anonymous devices is the minor.
        string abort = $"/sys/fs/fuse/connections/{entry.Device.Split(':')[1]}/abort";
        try
        {
            File.WriteAllText(abort, "1");
            return true;
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            return false;
        }
    }

    /// <summary>
    /// Sets the kernel readahead of the mount at <paramref name="path"/> (default 128 KiB): sequential reads then
    /// arrive as requests of up to the largest request size, several at once. Only root may; false when not allowed.
    /// </summary>
    public static bool TrySetReadahead(string path, int bytes)
    {
        if (Find(path) is not { } entry)
        {
            return false;
        }

        try
        {
            File.WriteAllText($"/sys/class/bdi/{entry.Device}/read_ahead_kb", (bytes / 1024).ToString(System.Globalization.CultureInfo.InvariantCulture));
            return true;
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            return false;
        }
    }

    private static void ThrowIfMounted(string path)
    {
        if (Find(path) is { } entry)
        {
            throw new VolumeException(VolumeErrorCode.Busy, $"'{path}' is already a mount point ({entry.FileSystemType}); unmount it first.");
        }
    }

    private static unsafe string RealPath(string path)
    {
        byte* resolved = LibC.RealPath(path, null);
        if (resolved is null)
        {
            return path;
        }

        try
        {
            return Marshal.PtrToStringUTF8((nint)resolved) ?? path;
        }
        finally
        {
            LibC.Free(resolved);
        }
    }

    /// <summary>mountinfo escapes space, tab, newline and backslash as \ooo octal.</summary>
    private static string Unescape(string field)
    {
        if (!field.Contains('\\', StringComparison.Ordinal))
        {
            return field;
        }

        var bytes = new List<byte>(field.Length);
        for (int i = 0; i < field.Length; i++)
        {
            if (field[i] == '\\' && IsOctal(field, i + 1))
            {
                bytes.Add((byte)(((field[i + 1] - '0') << 6) | ((field[i + 2] - '0') << 3) | (field[i + 3] - '0')));
                i += 3;
            }
            else
            {
                bytes.AddRange(Encoding.UTF8.GetBytes(field[i].ToString()));
            }
        }

        return Encoding.UTF8.GetString(bytes.ToArray());
    }

    private static bool IsOctal(string text, int start) =>
        start + 2 < text.Length && text[start] is >= '0' and <= '7' && text[start + 1] is >= '0' and <= '7'
        && text[start + 2] is >= '0' and <= '7';
}
