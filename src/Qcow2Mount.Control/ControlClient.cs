using System.Text.Json;
using Qcow2Mount.Control.Protocol;

namespace Qcow2Mount.Control;

/// <summary>What <see cref="ControlClient.MountAsync"/> asks the service to mount; relative paths are made absolute.</summary>
public sealed record ControlMountRequest
{
    public required string Image { get; init; }

    public required string MountPoint { get; init; }

    /// <summary>One of <see cref="ControlMountModes"/>; null: the service's default.</summary>
    public string? Mode { get; init; }

    /// <summary>Snapshot mode: the snapshot's id or name.</summary>
    public string? Snapshot { get; init; }

    /// <summary>Overlay mode: the overlay file to create (null: a temporary one).</summary>
    public string? Overlay { get; init; }

    public bool KeepOverlay { get; init; }

    public bool ForceShare { get; init; }

    /// <summary>An encrypted image's password (it travels over the user-private endpoint only).</summary>
    public string? Password { get; init; }
}

/// <summary>
/// One connection to the mount service. Requests go one at a time (calls are serialized); the typed helpers throw
/// <see cref="ControlException"/> with the service's error code when it refuses, <see cref="SendAsync"/> returns
/// the response as is. Relative paths are made absolute here, since the service has its own current directory.
/// </summary>
public sealed class ControlClient : IAsyncDisposable, IDisposable
{
    public static readonly TimeSpan DefaultConnectTimeout = TimeSpan.FromSeconds(5);

    private readonly Stream _stream;
    private readonly LineReader _reader;
    private readonly SemaphoreSlim _oneAtATime = new(1, 1);
    private long _lastId;

    private ControlClient(ControlEndpoint endpoint, Stream stream)
    {
        Endpoint = endpoint;
        _stream = stream;
        _reader = new LineReader(stream, ControlProtocol.MaxResponseBytes);
    }

    public ControlEndpoint Endpoint { get; }

    /// <summary>Connects to the service at <paramref name="endpoint"/> (default: the user's), or throws <see cref="ErrorCodes.ServiceUnavailable"/>.</summary>
    public static async Task<ControlClient> ConnectAsync(ControlEndpoint? endpoint = null, TimeSpan? timeout = null, CancellationToken cancellationToken = default)
    {
        endpoint ??= ControlEndpoint.Default;
        var stream = await endpoint.ConnectAsync(timeout ?? DefaultConnectTimeout, cancellationToken).ConfigureAwait(false);
        return new ControlClient(endpoint, stream);
    }

    /// <summary>Mounts <c>request.Image</c> at <c>request.MountPoint</c>; returns once disk.raw is readable there.</summary>
    public async Task<MountInfo> MountAsync(ControlMountRequest request, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(request);
        ArgumentException.ThrowIfNullOrEmpty(request.Image);
        ArgumentException.ThrowIfNullOrEmpty(request.MountPoint);
        var response = await SendCheckedAsync(new ControlRequest
        {
            Op = ControlOperations.Mount,
            Image = Path.GetFullPath(request.Image),
            MountPoint = Path.GetFullPath(request.MountPoint),
            Mode = request.Mode,
            Snapshot = request.Snapshot,
            Overlay = request.Overlay is null ? null : Path.GetFullPath(request.Overlay),
            KeepOverlay = request.KeepOverlay ? true : null,
            ForceShare = request.ForceShare ? true : null,
            Password = request.Password,
        }, cancellationToken).ConfigureAwait(false);
        return response.Mount ?? throw Garbled("mount");
    }

    /// <summary>Unmounts the mount at <paramref name="mountPoint"/>; with <paramref name="force"/> even when files are open.</summary>
    public async Task<MountInfo> UnmountAsync(string mountPoint, bool force = false, CancellationToken cancellationToken = default)
    {
        ArgumentException.ThrowIfNullOrEmpty(mountPoint);
        var response = await SendCheckedAsync(new ControlRequest
        {
            Op = ControlOperations.Unmount,
            MountPoint = Path.GetFullPath(mountPoint),
            Force = force ? true : null,
        }, cancellationToken).ConfigureAwait(false);
        return response.Mount ?? throw Garbled("unmount");
    }

    public async Task<IReadOnlyList<MountInfo>> ListAsync(CancellationToken cancellationToken = default)
    {
        var response = await SendCheckedAsync(new ControlRequest { Op = ControlOperations.List }, cancellationToken).ConfigureAwait(false);
        return response.Mounts ?? throw Garbled("list");
    }

    public async Task<ServiceStatus> StatusAsync(CancellationToken cancellationToken = default)
    {
        var response = await SendCheckedAsync(new ControlRequest { Op = ControlOperations.Status }, cancellationToken).ConfigureAwait(false);
        return response.Status ?? throw Garbled("status");
    }

    /// <summary>
    /// Asks the service to unmount everything and exit; returns once it has accepted (it stops afterwards). With
    /// <paramref name="ifIdle"/> a service with mounts refuses (<see cref="ErrorCodes.Busy"/>) and keeps serving.
    /// </summary>
    public Task ShutdownAsync(bool ifIdle = false, CancellationToken cancellationToken = default) =>
        SendCheckedAsync(new ControlRequest { Op = ControlOperations.Shutdown, IfIdle = ifIdle ? true : null }, cancellationToken);

    /// <summary>Sends one request (a numeric id is assigned when it has none) and returns the response, ok or not.</summary>
    public async Task<ControlResponse> SendAsync(ControlRequest request, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(request);
        if (request.Id is null)
        {
            request = request with { Id = JsonSerializer.SerializeToElement(Interlocked.Increment(ref _lastId), ControlJsonContext.Default.Int64) };
        }

        byte[] line = JsonSerializer.SerializeToUtf8Bytes(request, ControlJsonContext.Default.ControlRequest);
        if (line.Length > ControlProtocol.MaxRequestBytes)
        {
            throw new ControlException(ErrorCodes.RequestTooLarge, $"The request is {line.Length} bytes; the limit is {ControlProtocol.MaxRequestBytes}.");
        }

        return await SendLineAsync(line, cancellationToken).ConfigureAwait(false);
    }

    /// <summary>Sends bytes as they are, newline appended, and reads one response: for testing the service with bad input.</summary>
    internal async Task<ControlResponse> SendLineAsync(ReadOnlyMemory<byte> line, CancellationToken cancellationToken = default)
    {
        await _oneAtATime.WaitAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            try
            {
                await _stream.WriteAsync(line, cancellationToken).ConfigureAwait(false);
                await _stream.WriteAsync("\n"u8.ToArray(), cancellationToken).ConfigureAwait(false);
                await _stream.FlushAsync(cancellationToken).ConfigureAwait(false);
            }
            catch (IOException e)
            {
                throw new ControlException(ErrorCodes.ServiceUnavailable, $"The service at {Endpoint} closed the connection: {e.Message}", e);
            }

            LineReadResult result;
            try
            {
                result = await _reader.ReadLineAsync(cancellationToken).ConfigureAwait(false);
            }
            catch (IOException e)
            {
                // A service that exits with our request unread resets the connection instead of closing it.
                throw new ControlException(ErrorCodes.ServiceUnavailable, $"The service at {Endpoint} closed the connection: {e.Message}", e);
            }

            return result.Status switch
            {
                LineStatus.Line => Parse(result.Line),
                LineStatus.TooLong => throw new ControlException(ErrorCodes.MalformedRequest, $"The service's response is longer than {ControlProtocol.MaxResponseBytes} bytes."),
                _ => throw new ControlException(ErrorCodes.ServiceUnavailable, $"The service at {Endpoint} closed the connection without answering."),
            };
        }
        finally
        {
            _oneAtATime.Release();
        }
    }

    public async ValueTask DisposeAsync()
    {
        await _stream.DisposeAsync().ConfigureAwait(false);
        _oneAtATime.Dispose();
    }

    public void Dispose()
    {
        _stream.Dispose();
        _oneAtATime.Dispose();
    }

    private async Task<ControlResponse> SendCheckedAsync(ControlRequest request, CancellationToken cancellationToken)
    {
        var response = await SendAsync(request, cancellationToken).ConfigureAwait(false);
        if (!response.Ok)
        {
            var error = response.Error ?? new ControlError(ErrorCodes.Internal, $"The service refused '{request.Op}' without saying why.");
            throw new ControlException(error.Code, error.Message);
        }

        return response;
    }

    private ControlResponse Parse(ReadOnlyMemory<byte> line)
    {
        try
        {
            return JsonSerializer.Deserialize(line.Span, ControlJsonContext.Default.ControlResponse)
                ?? throw new ControlException(ErrorCodes.MalformedRequest, $"The service at {Endpoint} answered 'null'.");
        }
        catch (JsonException e)
        {
            throw new ControlException(ErrorCodes.MalformedRequest, $"The service at {Endpoint} answered something that is not a response: {e.Message}", e);
        }
    }

    private ControlException Garbled(string op) =>
        new(ErrorCodes.Internal, $"The service at {Endpoint} answered '{op}' without its result (is it another version?).");
}
