using System.Buffers.Binary;
using System.Runtime.InteropServices;

namespace Qcow2Mount.Qcow2.Storage;

/// <summary>
/// What a path names on Linux: its device and inode (two paths are one file exactly when these match, through
/// symlinks and hard links alike) and whether it is a regular file (not a pipe, device, socket or directory).
/// </summary>
public readonly partial record struct FileIdentity(ulong Device, ulong Inode, bool IsRegularFile)
{
    private const uint TypeMask = 0xF000;
    private const uint RegularType = 0x8000;

    /// <summary>The identity of the file <paramref name="path"/> names (symlinks followed); null when it does not exist or the OS is not Linux.</summary>
    public static unsafe FileIdentity? Of(string path)
    {
        // glibc's struct stat: st_dev and st_ino lead on every Linux ABI; st_mode follows st_nlink (8 bytes) on
        // x86-64 and precedes it on the generic layout (arm64).
        int modeOffset = RuntimeInformation.ProcessArchitecture switch
        {
            Architecture.X64 => 24,
            Architecture.Arm64 => 16,
            _ => -1,
        };
        if (!OperatingSystem.IsLinux() || modeOffset < 0)
        {
            return null;
        }

        byte* stat = stackalloc byte[256];
        try
        {
            if (NativeStat(path, stat) != 0)
            {
                return null;
            }
        }
        catch (EntryPointNotFoundException)
        {
            // glibc before 2.33 has no stat symbol (only __xstat): callers fall back to comparing full paths.
            return null;
        }

        var bytes = new ReadOnlySpan<byte>(stat, 256);
        uint mode = BinaryPrimitives.ReadUInt32LittleEndian(bytes[modeOffset..]);
        return new FileIdentity(
            BinaryPrimitives.ReadUInt64LittleEndian(bytes), BinaryPrimitives.ReadUInt64LittleEndian(bytes[8..]), (mode & TypeMask) == RegularType);
    }

    /// <summary>True when both paths name the same existing file.</summary>
    public bool SameFileAs(FileIdentity other) => Device == other.Device && Inode == other.Inode;

    [LibraryImport("libc", EntryPoint = "stat", StringMarshalling = StringMarshalling.Utf8)]
    private static unsafe partial int NativeStat(string path, byte* buffer);
}
