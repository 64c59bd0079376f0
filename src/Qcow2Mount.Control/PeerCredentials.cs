using System.Buffers.Binary;
using System.Net.Sockets;
using System.Runtime.InteropServices;

namespace Qcow2Mount.Control;

/// <summary>
/// Who is at the other end of a connected Unix socket (SO_PEERCRED, Linux), so the service serves only its own
/// user and the CLI trusts only a service of its own user, whatever the socket file's mode and folder.
/// </summary>
public static partial class PeerCredentials
{
    private const int SolSocket = 1;
    private const int SoPeerCred = 17;

    /// <summary>This process's real user ID (0 on Windows).</summary>
    public static uint CurrentUid => OperatingSystem.IsWindows() ? 0 : NativeGetUid();

    /// <summary>The peer's user ID; null where the OS does not tell (not Linux, or not a Unix socket).</summary>
    public static uint? PeerUid(Socket socket)
    {
        ArgumentNullException.ThrowIfNull(socket);
        if (!OperatingSystem.IsLinux() || socket.AddressFamily != AddressFamily.Unix)
        {
            return null;
        }

        // struct ucred { pid_t pid; uid_t uid; gid_t gid; }
        Span<byte> ucred = stackalloc byte[12];
        int length = socket.GetRawSocketOption(SolSocket, SoPeerCred, ucred);
        return length >= 8 ? BinaryPrimitives.ReadUInt32LittleEndian(ucred[4..]) : null;
    }

    [LibraryImport("libc", EntryPoint = "getuid")]
    private static partial uint NativeGetUid();
}
