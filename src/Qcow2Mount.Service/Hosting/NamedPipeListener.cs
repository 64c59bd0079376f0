using System.IO.Pipes;
using System.Runtime.Versioning;
using System.Security.AccessControl;
using System.Security.Principal;
using Qcow2Mount.Control;

namespace Qcow2Mount.Service.Hosting;

/// <summary>
/// The Windows endpoint: a named pipe whose ACL lets only the current user connect. The first instance is created
/// with FirstPipeInstance, so a second service (or anyone squatting on the name) makes this one refuse to start.
/// </summary>
[SupportedOSPlatform("windows")]
internal sealed class NamedPipeListener : IControlListener
{
    private readonly string _name;
    private readonly PipeSecurity _security;
    private NamedPipeServerStream? _next;

    private NamedPipeListener(string name)
    {
        _name = name;
        using var identity = WindowsIdentity.GetCurrent();
        var user = identity.User ?? throw new ServiceStartException("The current user has no security identifier.");
        _security = new PipeSecurity();
        // Clients connect with PipeOptions.CurrentUserOnly, which compares the pipe's owner with their token's owner:
        // that is the Administrators group, not the user, in an elevated process, so the pipe takes the token's owner.
        _security.SetOwner(identity.Owner ?? user);
        _security.AddAccessRule(new PipeAccessRule(user, PipeAccessRights.ReadWrite | PipeAccessRights.CreateNewInstance, AccessControlType.Allow));
    }

    public static NamedPipeListener Bind(string name)
    {
        try
        {
            using var probe = ControlClient.ConnectAsync(new ControlEndpoint { PipeName = name }, TimeSpan.FromMilliseconds(500)).GetAwaiter().GetResult();
            throw new ServiceStartException($@"Another qcow2mount service is already running at \\.\pipe\{name}.");
        }
        catch (ControlException)
        {
            // Nobody answers: the name is ours to take.
        }

        var listener = new NamedPipeListener(name);
        try
        {
            listener._next = listener.CreateInstance(first: true);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw new ServiceStartException($@"Cannot create the pipe \\.\pipe\{name} (another process holds the name?): {e.Message}", e);
        }

        return listener;
    }

    public async Task<Stream> AcceptAsync(CancellationToken cancellationToken)
    {
        var server = _next ?? throw new ObjectDisposedException(nameof(NamedPipeListener));
        await server.WaitForConnectionAsync(cancellationToken).ConfigureAwait(false);
        _next = CreateInstance(first: false);
        return server;
    }

    public void Dispose()
    {
        _next?.Dispose();
        _next = null;
    }

    private NamedPipeServerStream CreateInstance(bool first) => NamedPipeServerStreamAcl.Create(
        _name,
        PipeDirection.InOut,
        NamedPipeServerStream.MaxAllowedServerInstances,
        PipeTransmissionMode.Byte,
        PipeOptions.Asynchronous | (first ? PipeOptions.FirstPipeInstance : PipeOptions.None),
        inBufferSize: 0,
        outBufferSize: 0,
        _security);
}
