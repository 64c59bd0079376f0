using System.Buffers.Binary;
using System.Runtime.InteropServices;

namespace Qcow2Mount.Qcow2.Storage;

/// <summary>The Linux half of <see cref="FileIdentity"/>: st_dev, st_ino and st_mode from stat(2).</summary>
public readonly partial record struct FileIdentity
{
    private const uint TypeMask = 0xF000;
    private const uint RegularType = 0x8000;

    /// <summary>stat(2) of <paramref name="path"/>: null when it does not exist or the architecture's layout is unknown here.</summary>
    private static unsafe FileIdentity? OfLinuxFile(string path)
    {
        // glibc's struct stat: st_dev and st_ino lead on every Linux ABI; st_mode follows st_nlink (8 bytes) on
        // x86-64 and precedes it on the generic layout (arm64).
        int modeOffset = RuntimeInformation.ProcessArchitecture switch
        {
            Architecture.X64 => 24,
            Architecture.Arm64 => 16,
            _ => -1,
        };
        if (modeOffset < 0)
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

    [LibraryImport("libc", EntryPoint = "stat", StringMarshalling = StringMarshalling.Utf8)]
    private static unsafe partial int NativeStat(string path, byte* buffer);
}
