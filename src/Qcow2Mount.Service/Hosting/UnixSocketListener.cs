using System.Net.Sockets;
using Microsoft.Extensions.Logging;
using Qcow2Mount.Control;

namespace Qcow2Mount.Service.Hosting;

/// <summary>
/// The Linux endpoint: a Unix domain socket, mode 0600, in a directory of mode 0700, so only the user (and root)
/// can connect. Refuses to start while another service answers on the socket; removes a stale one.
/// </summary>
[System.Runtime.Versioning.UnsupportedOSPlatform("windows")]
internal sealed class UnixSocketListener : IControlListener
{
    internal const UnixFileMode DirectoryMode = UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute;
    internal const UnixFileMode SocketMode = UnixFileMode.UserRead | UnixFileMode.UserWrite;

    private readonly Socket _socket;
    private readonly string _path;

    private UnixSocketListener(Socket socket, string path)
    {
        _socket = socket;
        _path = path;
    }

    public static UnixSocketListener Bind(string path, ILogger logger)
    {
        string directory = Path.GetDirectoryName(path) ?? throw new ServiceStartException($"'{path}' has no directory.");
        PrepareDirectory(directory);
        if (File.Exists(path) || Directory.Exists(path))
        {
            if (IsAnswering(path))
            {
                throw new ServiceStartException($"Another qcow2mount service is already running at {path}.");
            }

            logger.LogInformation("Removing the stale socket {Path} (no service answers there)", path);
            File.Delete(path);
        }

        var socket = new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified);
        try
        {
            socket.Bind(new UnixDomainSocketEndPoint(path));
            // The 0700 directory already keeps others out between bind and chmod; 0600 keeps them out if it is ever widened.
            File.SetUnixFileMode(path, SocketMode);
            socket.Listen(64);
            return new UnixSocketListener(socket, path);
        }
        catch (SocketException e)
        {
            socket.Dispose();
            throw new ServiceStartException($"Cannot listen at {path}: {e.Message}", e);
        }
    }

    public async Task<Stream> AcceptAsync(CancellationToken cancellationToken)
    {
        var client = await _socket.AcceptAsync(cancellationToken).ConfigureAwait(false);
        return new NetworkStream(client, ownsSocket: true);
    }

    public void Dispose()
    {
        _socket.Dispose();
        try
        {
            File.Delete(_path);
        }
        catch (IOException)
        {
            // Gone already, or the folder went away: nothing to clean.
        }
    }

    private static void PrepareDirectory(string directory)
    {
        if (!Directory.Exists(directory))
        {
            Directory.CreateDirectory(directory, DirectoryMode);
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
