using System.Net.Sockets;
using System.Text.Json;
using Qcow2Mount.Control.Protocol;

namespace Qcow2Mount.Service.Tests.Support;

/// <summary>
/// A stand-in for a service of another build on a private socket: answers <c>status</c> with <see cref="Status"/>
/// and <c>shutdown</c> as a real service does (refused with busy when asked if idle while it reports mounts; else
/// it stops listening and removes its socket). It records what it was asked. Its pid is the test's own, as for a
/// service hosted in the test process.
/// </summary>
internal sealed class FakeService : IAsyncDisposable
{
    private readonly Socket _listener;
    private readonly CancellationTokenSource _stop = new();
    private readonly List<ControlRequest> _requests = [];
    private readonly Task _accepting;
    private ServiceStatus _status;

    private FakeService(string path, ServiceStatus status, FakeBehaviour behaviour)
    {
        _status = status with { ProcessId = Environment.ProcessId, Endpoint = path };
        Behaviour = behaviour;
        Directory.CreateDirectory(Path.GetDirectoryName(path)!);
        _listener = new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified);
        _listener.Bind(new UnixDomainSocketEndPoint(path));
        _listener.Listen(8);
        _accepting = Task.Run(AcceptAsync);
    }

    public FakeBehaviour Behaviour { get; }

    public ServiceStatus Status
    {
        get
        {
            lock (_requests)
            {
                return _status;
            }
        }
    }

    public IReadOnlyList<ControlRequest> Requests
    {
        get
        {
            lock (_requests)
            {
                return [.. _requests];
            }
        }
    }

    /// <summary>Whether it still listens (false once it accepted a shutdown it does not ignore).</summary>
    public bool IsListening => !_stop.IsCancellationRequested;

    /// <param name="socketPath">The Unix socket it listens on; its folder is created.</param>
    /// <param name="version">What <c>status</c> reports as the service's version.</param>
    /// <param name="mountCount">What <c>status</c> reports as its number of mounts.</param>
    /// <param name="behaviour">How it departs from a real service, if at all.</param>
    /// <param name="features">What its status lists; null for this build's (<see cref="ServiceFeatures.All"/>), empty for a service older than the field.</param>
    public static FakeService Start(string socketPath, string version, int mountCount, FakeBehaviour behaviour = FakeBehaviour.AsAService,
        IReadOnlyList<string>? features = null) =>
        new(socketPath, new ServiceStatus
        {
            Version = version,
            MountCount = mountCount,
            FileSystem = "fake",
            StartedAt = DateTimeOffset.UtcNow,
            Features = features ?? ServiceFeatures.All,
        }, behaviour);

    public async ValueTask DisposeAsync()
    {
        StopListening();
        await _accepting.ConfigureAwait(false);
        _stop.Dispose();
    }

    private async Task AcceptAsync()
    {
        var connections = new List<Task>();
        while (!_stop.IsCancellationRequested)
        {
            try
            {
                var client = await _listener.AcceptAsync(_stop.Token).ConfigureAwait(false);
                connections.Add(Task.Run(() => ServeAsync(new NetworkStream(client, ownsSocket: true))));
            }
            catch (Exception e) when (e is OperationCanceledException or ObjectDisposedException or SocketException)
            {
                break;
            }
        }

        await Task.WhenAll(connections).ConfigureAwait(false);
    }

    private async Task ServeAsync(NetworkStream stream)
    {
        await using (stream.ConfigureAwait(false))
        {
            var reader = new LineReader(stream, ControlProtocol.MaxRequestBytes);
            while (true)
            {
                LineReadResult line;
                try
                {
                    line = await reader.ReadLineAsync(_stop.Token).ConfigureAwait(false);
                }
                catch (Exception e) when (e is OperationCanceledException or IOException)
                {
                    return;
                }

                if (line.Status != LineStatus.Line)
                {
                    return;
                }

                var request = JsonSerializer.Deserialize(line.Line.Span, ControlJsonContext.Default.ControlRequest)!;
                var (response, stop) = Answer(request);
                await stream.WriteAsync(JsonSerializer.SerializeToUtf8Bytes(response, ControlJsonContext.Default.ControlResponse)).ConfigureAwait(false);
                await stream.WriteAsync("\n"u8.ToArray()).ConfigureAwait(false);
                if (stop)
                {
                    StopListening();
                    return;
                }
            }
        }
    }

    private (ControlResponse Response, bool Stop) Answer(ControlRequest request)
    {
        lock (_requests)
        {
            _requests.Add(request);
            switch (request.Op)
            {
                case ControlOperations.Status:
                    return (new ControlResponse { Id = request.Id, Ok = true, Status = _status }, false);
                case ControlOperations.Shutdown when request.IfIdle == true && Behaviour == FakeBehaviour.MountArrivesBeforeShutdown:
                    // Another client mounted between the caller's status and its shutdown.
                    _status = _status with { MountCount = _status.MountCount + 1 };
                    return (ControlResponse.Failure(request.Id, ErrorCodes.Busy, "1 image(s) are mounted"), false);
                case ControlOperations.Shutdown when request.IfIdle == true && _status.MountCount > 0:
                    return (ControlResponse.Failure(request.Id, ErrorCodes.Busy, $"{_status.MountCount} image(s) are mounted"), false);
                case ControlOperations.Shutdown:
                    return (new ControlResponse { Id = request.Id, Ok = true }, Behaviour != FakeBehaviour.NeverExits);
                default:
                    return (ControlResponse.Failure(request.Id, ErrorCodes.UnknownOperation, $"The fake service does not do '{request.Op}'."), false);
            }
        }
    }

    private void StopListening()
    {
        lock (_requests)
        {
            if (_stop.IsCancellationRequested)
            {
                return;
            }

            // .NET removes the socket file it bound; deleting it again here could hit a new service's socket.
            _stop.Cancel();
            _listener.Dispose();
        }
    }
}

/// <summary>How <see cref="FakeService"/> departs from a real service, if at all.</summary>
internal enum FakeBehaviour
{
    AsAService,

    /// <summary>Refuses a shutdown if idle with busy, and reports one more mount from then on.</summary>
    MountArrivesBeforeShutdown,

    /// <summary>Accepts a shutdown and goes on listening, like a service stuck closing its mounts.</summary>
    NeverExits,
}
