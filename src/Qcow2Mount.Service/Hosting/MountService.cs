using System.Text.Json;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Qcow2Mount.Control;
using Qcow2Mount.Control.Protocol;
using Qcow2Mount.Service.Logging;
using Qcow2Mount.Service.Mounts;

namespace Qcow2Mount.Service.Hosting;

/// <summary>
/// The mount service: takes the control endpoint at start (failing the start when another service answers),
/// serves each connection on its own task, one request at a time per connection, and on stop (SIGTERM, Ctrl+C,
/// the shutdown request) stops listening, then unmounts everything cleanly.
/// </summary>
public sealed class MountService : BackgroundService
{
    private readonly MountManager _manager;
    private readonly ControlEndpoint _endpoint;
    private readonly IHostApplicationLifetime _lifetime;
    private readonly ILogger<MountService> _logger;
    private readonly ControlDispatcher _dispatcher;
    private IControlListener? _listener;

    /// <summary>Clients connected at once at most; more are closed at once (only the user's own processes connect).</summary>
    internal const int MaxConnections = 64;

    /// <summary>How long a connection may wait between requests (or in the middle of one) before it is closed.</summary>
    internal static readonly TimeSpan IdleTimeout = TimeSpan.FromMinutes(5);

    private static readonly TimeSpan AcceptRetryDelay = TimeSpan.FromMilliseconds(200);

    public MountService(MountManager manager, ControlEndpoint endpoint, IHostApplicationLifetime lifetime, ILogger<MountService> logger)
    {
        ArgumentNullException.ThrowIfNull(manager);
        ArgumentNullException.ThrowIfNull(endpoint);
        _manager = manager;
        _endpoint = endpoint;
        _lifetime = lifetime;
        _logger = logger;
        _dispatcher = new ControlDispatcher(manager, endpoint.ToString(), logger);
    }

    public override Task StartAsync(CancellationToken cancellationToken)
    {
        // Bound here, not in ExecuteAsync, so a taken endpoint fails the host's start instead of a background task.
        _listener = OperatingSystem.IsWindows()
            ? NamedPipeListener.Bind(_endpoint.PipeName!)
            : UnixSocketListener.Bind(_endpoint.SocketPath!, _logger);
        _logger.Listening(Environment.ProcessId, _endpoint);
        return base.StartAsync(cancellationToken);
    }

    public override async Task StopAsync(CancellationToken cancellationToken)
    {
        _logger.Stopping(_manager.Count);
        await base.StopAsync(cancellationToken).ConfigureAwait(false);
        _listener?.Dispose();
        await Task.Run(_manager.UnmountAll, CancellationToken.None).ConfigureAwait(false);
        _logger.Stopped();
    }

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        var connections = new List<Task>();
        while (!stoppingToken.IsCancellationRequested)
        {
            Stream stream;
            try
            {
                stream = await _listener!.AcceptAsync(stoppingToken).ConfigureAwait(false);
            }
            catch (OperationCanceledException)
            {
                break;
            }
            catch (Exception e) when (e is IOException or System.Net.Sockets.SocketException)
            {
                // Out of descriptors (EMFILE) fails every accept at once: pause instead of spinning on warnings.
                _logger.AcceptFailed(e.Message);
                try
                {
                    await Task.Delay(AcceptRetryDelay, stoppingToken).ConfigureAwait(false);
                }
                catch (OperationCanceledException)
                {
                    break;
                }

                continue;
            }

            connections.RemoveAll(t => t.IsCompleted);
            if (connections.Count >= MaxConnections)
            {
                _logger.TooManyClients(connections.Count);
                await stream.DisposeAsync().ConfigureAwait(false);
                continue;
            }

            connections.Add(Task.Run(() => ServeAsync(stream, stoppingToken), CancellationToken.None));
        }

        await Task.WhenAll(connections).ConfigureAwait(false);
    }

    private async Task ServeAsync(Stream stream, CancellationToken stoppingToken)
    {
        await using (stream.ConfigureAwait(false))
        {
            var reader = new LineReader(stream, ControlProtocol.MaxRequestBytes);
            while (!stoppingToken.IsCancellationRequested)
            {
                try
                {
                    LineReadResult line;
                    using (var idle = CancellationTokenSource.CreateLinkedTokenSource(stoppingToken))
                    {
                        // A client that connects and never sends (or stops half-way) is dropped, not kept forever.
                        idle.CancelAfter(IdleTimeout);
                        line = await reader.ReadLineAsync(idle.Token).ConfigureAwait(false);
                    }

                    ControlResponse response;
                    bool shutdown = false;
                    switch (line.Status)
                    {
                        case LineStatus.EndOfStream:
                            return;
                        case LineStatus.TooLong:
                            response = ControlResponse.Failure(null, ErrorCodes.RequestTooLarge,
                                $"The request line is longer than {ControlProtocol.MaxRequestBytes} bytes.");
                            break;
                        default:
                            if (line.Line.Span.Trim(" \t"u8).IsEmpty)
                            {
                                continue;
                            }

                            (response, shutdown) = await _dispatcher.HandleAsync(line.Line).ConfigureAwait(false);
                            break;
                    }

                    byte[] bytes = JsonSerializer.SerializeToUtf8Bytes(response, ControlJsonContext.Default.ControlResponse);
                    try
                    {
                        await stream.WriteAsync(bytes, stoppingToken).ConfigureAwait(false);
                        await stream.WriteAsync("\n"u8.ToArray(), stoppingToken).ConfigureAwait(false);
                        await stream.FlushAsync(stoppingToken).ConfigureAwait(false);
                    }
                    finally
                    {
                        // An accepted shutdown happens even when its client is gone before the answer: after an
                        // ifIdle one the manager takes no more mounts, and a service that only refuses must not stay.
                        if (shutdown)
                        {
                            _logger.ShutdownRequested();
                            _lifetime.StopApplication();
                        }
                    }

                    if (shutdown)
                    {
                        return;
                    }
                }
                catch (OperationCanceledException)
                {
                    return;
                }
                catch (Exception e) when (e is IOException or ObjectDisposedException)
                {
                    _logger.ConnectionEnded(e.Message);
                    return;
                }
            }
        }
    }
}
