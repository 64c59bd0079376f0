using System.Runtime.InteropServices;
using System.Net.Sockets;
using Microsoft.Extensions.Logging;
using Qcow2Mount.Control;
using Qcow2Mount.Service.Logging;

namespace Qcow2Mount.Service.Hosting;

/// <summary>
/// The Linux endpoint: a Unix domain socket, mode 0600, and each connection's peer checked to be the user who
/// started the service (SO_PEERCRED; root included, which the mode alone would let in). The default socket's own folder is kept at mode 0700;
/// a folder the user chose for <c>Control:SocketPath</c> (/run, a home directory) is left as it is. Refuses to start
/// while another service answers on the socket; removes a stale one. Services starting or stopping at once on the
/// same socket take turns (an flock on the socket's folder, which leaves no file behind), so exactly one of them ends
/// up listening and none deletes another's socket.
/// </summary>
[System.Runtime.Versioning.UnsupportedOSPlatform("windows")]
internal sealed partial class UnixSocketListener : IControlListener
{
    internal const UnixFileMode DirectoryMode = UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute;
    internal const UnixFileMode SocketMode = UnixFileMode.UserRead | UnixFileMode.UserWrite;

    /// <summary>How long a starting service waits for another one that is taking the same socket.</summary>
    private static readonly TimeSpan TurnTimeout = TimeSpan.FromSeconds(10);

    private readonly Socket _socket;
    private readonly string _path;
    private readonly ILogger _logger;

    private UnixSocketListener(Socket socket, string path, ILogger logger)
    {
        _socket = socket;
        _path = path;
        _logger = logger;
    }

    public static UnixSocketListener Bind(string path, ILogger logger)
    {
        string directory = Path.GetDirectoryName(path) ?? throw new ServiceStartException($"'{path}' has no directory.");
        bool dedicated = directory == Path.GetDirectoryName(ControlEndpoint.DefaultSocketPath());
        PrepareDirectory(directory, dedicated);
        // Services starting at once (clients that found none, or replaced an outdated one, together) take turns from
        // the check to listen: otherwise one can take the other's new socket, bound but not listening yet, for a
        // stale one, delete it and bind its own, and the other listens forever on a socket nobody can reach.
        using var turn = TakeTurn(path);
        if (File.Exists(path) || Directory.Exists(path))
        {
            if (IsAnswering(path))
            {
                throw new ServiceStartException($"Another qcow2mount service is already running at {path}.");
            }

            logger.RemovingStaleSocket(path);
            File.Delete(path);
        }

        var socket = new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified);
        try
        {
            socket.Bind(new UnixDomainSocketEndPoint(path));
            // Between bind and chmod the socket has the umask's mode; the peer check on accept covers that moment.
            File.SetUnixFileMode(path, SocketMode);
            socket.Listen(64);
            return new UnixSocketListener(socket, path, logger);
        }
        catch (SocketException e)
        {
            socket.Dispose();
            throw new ServiceStartException($"Cannot listen at {path}: {e.Message}", e);
        }
    }

    public async Task<Stream> AcceptAsync(CancellationToken cancellationToken)
    {
        while (true)
        {
            var client = await _socket.AcceptAsync(cancellationToken).ConfigureAwait(false);
            uint? peer;
            try
            {
                peer = PeerCredentials.PeerUid(client);
            }
            catch
            {
                client.Dispose();
                throw;
            }

            if (peer is null || peer == PeerCredentials.CurrentUid)
            {
                return new NetworkStream(client, ownsSocket: true);
            }

            _logger.RefusedUser(peer, PeerCredentials.CurrentUid);
            client.Dispose();
        }
    }

    public void Dispose()
    {
        // The file is ours while we still listen on it, and no service starting now gets past its turn until we
        // are done: delete it, then close (the runtime's own delete at close then finds nothing to take).
        using var turn = TryTakeTurn(_path);
        try
        {
            File.Delete(_path);
        }
        catch (IOException)
        {
            // Gone already, or the folder went away: nothing to clean.
        }

        _socket.Dispose();
    }

    /// <summary>
    /// An exclusive flock on the socket's folder, held until disposed (or the process dies). Waits while another
    /// service starting or stopping there holds it; throws after <see cref="TurnTimeout"/>.
    /// </summary>
    private static FolderTurn TakeTurn(string path)
    {
        string folder = Path.GetDirectoryName(path)!;
        int fd = Open(folder, OpenReadOnlyCloseOnExec);
        if (fd < 0)
        {
            throw new ServiceStartException($"Cannot listen at {path}: cannot open its folder (errno {Marshal.GetLastPInvokeError()}).");
        }

        var waited = System.Diagnostics.Stopwatch.StartNew();
        while (Flock(fd, LockExclusive | LockNonBlocking) != 0)
        {
            if (Marshal.GetLastPInvokeError() != EWouldBlock)
            {
                break; // a file system without flock: go on unguarded rather than refuse to start
            }

            if (waited.Elapsed > TurnTimeout)
            {
                _ = Close(fd);
                throw new ServiceStartException($"Another qcow2mount service has been starting or stopping at {path} for {TurnTimeout.TotalSeconds:0} s.");
            }

            Thread.Sleep(20);
        }

        return new FolderTurn(fd);
    }

    /// <summary><see cref="TakeTurn"/>, or null when the turn cannot be had (stopping goes on regardless).</summary>
    private static FolderTurn? TryTakeTurn(string path)
    {
        try
        {
            return TakeTurn(path);
        }
        catch (ServiceStartException)
        {
            return null;
        }
    }

    private sealed class FolderTurn(int fd) : IDisposable
    {
        public void Dispose() => _ = Close(fd);
    }

    private const int OpenReadOnlyCloseOnExec = 0x80000; // O_RDONLY | O_CLOEXEC
    private const int LockExclusive = 2, LockNonBlocking = 4, EWouldBlock = 11;

    [LibraryImport("libc", EntryPoint = "open", StringMarshalling = StringMarshalling.Utf8, SetLastError = true)]
    private static partial int Open(string path, int flags);

    [LibraryImport("libc", EntryPoint = "flock", SetLastError = true)]
    private static partial int Flock(int fd, int operation);

    [LibraryImport("libc", EntryPoint = "close")]
    private static partial int Close(int fd);

    /// <param name="directory">The folder that will hold the socket.</param>
    /// <param name="dedicated">The default socket's own folder, which the service may create and tighten; any
    /// other folder belongs to the user and keeps its mode (chmod 0700 of /run or /tmp would break the system).</param>
    private static void PrepareDirectory(string directory, bool dedicated)
    {
        if (!Directory.Exists(directory))
        {
            Directory.CreateDirectory(directory, DirectoryMode);
            return;
        }

        if (!dedicated)
        {
            return;
        }

        if (new DirectoryInfo(directory).LinkTarget is { } target)
        {
            throw new ServiceStartException($"The socket folder '{directory}' is a symbolic link (to '{target}'); remove it and start again.");
        }

        try
        {
            if (File.GetUnixFileMode(directory) != DirectoryMode)
            {
                File.SetUnixFileMode(directory, DirectoryMode);
            }
        }
        catch (Exception e) when (e is UnauthorizedAccessException or IOException)
        {
            throw new ServiceStartException($"The socket folder '{directory}' is not private (mode 0700) and cannot be made so: {e.Message}", e);
        }
    }

    private static bool IsAnswering(string path)
    {
        try
        {
            using var client = ControlClient.ConnectAsync(new ControlEndpoint { SocketPath = path }, TimeSpan.FromSeconds(2)).GetAwaiter().GetResult();
            return true;
        }
        catch (ControlException)
        {
            return false;
        }
    }
}
