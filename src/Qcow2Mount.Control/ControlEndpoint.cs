using System.IO.Pipes;
using System.Net.Sockets;
using Qcow2Mount.Control.Protocol;

namespace Qcow2Mount.Control;

/// <summary>
/// Where the service listens: a Unix domain socket (Linux, macOS) or a named pipe (Windows). Both are private to
/// the user: the socket lives in a 0700 directory with mode 0600, the pipe has an ACL for the current user only.
/// </summary>
public sealed partial record ControlEndpoint
{
    /// <summary>The socket file (non-Windows).</summary>
    public string? SocketPath { get; init; }

    /// <summary>The pipe name without <c>\\.\pipe\</c> (Windows).</summary>
    public string? PipeName { get; init; }

    /// <summary>
    /// The user's endpoint: <c>$XDG_RUNTIME_DIR/qcow2mount/control.sock</c>, else <c>/tmp/qcow2mount-$UID/control.sock</c>;
    /// on Windows the pipe <c>qcow2mount-&lt;user&gt;</c>.
    /// </summary>
    public static ControlEndpoint Default => OperatingSystem.IsWindows()
        ? new ControlEndpoint { PipeName = DefaultPipeName() }
        : new ControlEndpoint { SocketPath = DefaultSocketPath() };

    /// <summary>The endpoint of this OS kind named by configuration values; null values take the default.</summary>
    public static ControlEndpoint From(string? socketPath, string? pipeName) => OperatingSystem.IsWindows()
        ? new ControlEndpoint { PipeName = string.IsNullOrWhiteSpace(pipeName) ? DefaultPipeName() : pipeName }
        : new ControlEndpoint { SocketPath = string.IsNullOrWhiteSpace(socketPath) ? DefaultSocketPath() : Path.GetFullPath(socketPath) };

    public static string DefaultSocketPath()
    {
        string? runtime = Environment.GetEnvironmentVariable("XDG_RUNTIME_DIR");
        return !string.IsNullOrEmpty(runtime) && Path.IsPathRooted(runtime)
            ? Path.Combine(runtime, "qcow2mount", "control.sock")
            : Path.Combine("/tmp", $"qcow2mount-{PeerCredentials.CurrentUid}", "control.sock");
    }

    public static string DefaultPipeName() => $"qcow2mount-{Environment.UserName}";

    public override string ToString() => SocketPath ?? $@"\\.\pipe\{PipeName}";

    /// <summary>Connects, or throws <see cref="ControlException"/> (<see cref="ErrorCodes.ServiceUnavailable"/>) within <paramref name="timeout"/>.</summary>
    public async Task<Stream> ConnectAsync(TimeSpan timeout, CancellationToken cancellationToken = default)
    {
        using var deadline = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        deadline.CancelAfter(timeout);
        try
        {
            if (PipeName is { } pipeName)
            {
                // CurrentUserOnly: the pipe's server must run as this user. Whoever creates the name first owns it, so
                // without this check another user could take the name and receive our mount requests, passwords
                // included (the Unix client checks SO_PEERCRED for the same reason).
                var pipe = new NamedPipeClientStream(".", pipeName, PipeDirection.InOut, PipeOptions.Asynchronous | PipeOptions.CurrentUserOnly);
                try
                {
                    await pipe.ConnectAsync(deadline.Token).ConfigureAwait(false);
                    return pipe;
                }
                catch
                {
                    await pipe.DisposeAsync().ConfigureAwait(false);
                    throw;
                }
            }

            string path = SocketPath ?? throw new InvalidOperationException("The endpoint names neither a socket nor a pipe.");
            Socket? socket = new(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified);
            try
            {
                await socket.ConnectAsync(new UnixDomainSocketEndPoint(path), deadline.Token).ConfigureAwait(false);
                if (PeerCredentials.PeerUid(socket) is { } owner && owner != PeerCredentials.CurrentUid)
                {
                    // Someone else made the socket (a predictable /tmp path taken first): send them nothing.
                    throw new ControlException(ErrorCodes.ServiceUnavailable,
                        $"The service at {this} runs as user {owner}, not as you (user {PeerCredentials.CurrentUid}); refusing to talk to it.");
                }

                var stream = new NetworkStream(socket, ownsSocket: true);
                socket = null;
                return stream;
            }
            finally
            {
                socket?.Dispose();
            }
        }
        catch (OperationCanceledException) when (!cancellationToken.IsCancellationRequested)
        {
            throw new ControlException(ErrorCodes.ServiceUnavailable, $"No qcow2mount service answered at {this} within {timeout.TotalSeconds:0.#} s.");
        }
        catch (Exception e) when (e is SocketException or IOException or UnauthorizedAccessException or TimeoutException)
        {
            string reason = e is SocketException { SocketErrorCode: SocketError.AccessDenied } or UnauthorizedAccessException
                ? "access denied (the endpoint belongs to another user)"
                : e.Message;
            throw new ControlException(ErrorCodes.ServiceUnavailable, $"No qcow2mount service answers at {this}: {reason}.", e);
        }
    }
}
