using System.Text.Json;
using Microsoft.Extensions.Logging;
using Qcow2Mount.Control;
using Qcow2Mount.Control.Protocol;
using Qcow2Mount.Service.Logging;
using Qcow2Mount.Service.Mounts;

namespace Qcow2Mount.Service.Hosting;

/// <summary>Turns one request line into one response: parsing, version and operation checks, then the MountManager call.</summary>
internal sealed class ControlDispatcher(MountManager manager, string endpoint, ILogger logger)
{
    private readonly DateTimeOffset _startedAt = DateTimeOffset.UtcNow;

    /// <summary>The response, and whether the service should stop once it is sent.</summary>
    public async Task<(ControlResponse Response, bool Shutdown)> HandleAsync(ReadOnlyMemory<byte> line)
    {
        JsonElement? id = null;
        ControlRequest request;
        try
        {
            using var document = JsonDocument.Parse(line);
            var root = document.RootElement;
            if (root.ValueKind != JsonValueKind.Object)
            {
                return (ControlResponse.Failure(null, ErrorCodes.MalformedRequest, $"A request is a JSON object, not {root.ValueKind.ToString().ToLowerInvariant()}."), false);
            }

            if (root.TryGetProperty("id", out var idElement))
            {
                id = idElement.Clone();
            }

            if (!root.TryGetProperty("v", out var version) || version.ValueKind != JsonValueKind.Number
                || !version.TryGetInt32(out int v) || v != ControlProtocol.Version)
            {
                string got = root.TryGetProperty("v", out var given) ? given.GetRawText() : "none";
                return (ControlResponse.Failure(id, ErrorCodes.UnsupportedVersion,
                    $"Protocol version {got} is not supported; this service speaks version {ControlProtocol.Version} (\"v\":{ControlProtocol.Version})."), false);
            }

            request = root.Deserialize(ControlJsonContext.Default.ControlRequest)!;
        }
        catch (JsonException e)
        {
            return (ControlResponse.Failure(id, ErrorCodes.MalformedRequest, $"Not a valid request: {e.Message.ReplaceLineEndings(" ")}"), false);
        }

        try
        {
            return request.Op switch
            {
                ControlOperations.Mount => (await MountAsync(id, request).ConfigureAwait(false), false),
                ControlOperations.Unmount => (await UnmountAsync(id, request).ConfigureAwait(false), false),
                ControlOperations.List => (new ControlResponse { Id = id, Ok = true, Mounts = manager.List() }, false),
                ControlOperations.Status => (new ControlResponse { Id = id, Ok = true, Status = Status() }, false),
                ControlOperations.Shutdown => (await ShutdownAsync(id, request).ConfigureAwait(false), true),
                null => (ControlResponse.Failure(id, ErrorCodes.MalformedRequest, "The request has no \"op\"."), false),
                _ => (ControlResponse.Failure(id, ErrorCodes.UnknownOperation,
                    $"Unknown operation '{request.Op}' (known: {string.Join(", ", ControlOperations.All)})."), false),
            };
        }
        catch (MountException e)
        {
            logger.Refused(request.Op, e.Code, e.Message);
            return (ControlResponse.Failure(id, e.Code, e.Message), false);
        }
#pragma warning disable CA1031 // A request's failure becomes an error response to its client, never a dead service.
        catch (Exception e)
#pragma warning restore CA1031
        {
            logger.FailedUnexpectedly(e, request.Op);
            var error = MountException.From(e);
            return (ControlResponse.Failure(id, error.Code, error.Message), false);
        }
    }

    private async Task<ControlResponse> MountAsync(JsonElement? id, ControlRequest request)
    {
        var mount = MountRequest.FromControl(request);
        var info = await Task.Run(() => manager.Mount(mount)).ConfigureAwait(false);
        return new ControlResponse { Id = id, Ok = true, Mount = info };
    }

    private async Task<ControlResponse> UnmountAsync(JsonElement? id, ControlRequest request)
    {
        string mountPoint = MountRequest.Required(request.MountPoint, "mountPoint");
        var info = await Task.Run(() => manager.Unmount(mountPoint, request.Force ?? false)).ConfigureAwait(false);
        return new ControlResponse { Id = id, Ok = true, Mount = info };
    }

    private async Task<ControlResponse> ShutdownAsync(JsonElement? id, ControlRequest request)
    {
        if (request.IfIdle == true)
        {
            // Waits for a mount under way; from here on the manager mounts nothing, so the service exits without mounts.
            await Task.Run(manager.CloseIfIdle).ConfigureAwait(false);
        }

        return new ControlResponse { Id = id, Ok = true };
    }

    private ServiceStatus Status() => new()
    {
        ProcessId = Environment.ProcessId,
        Version = BuildVersion.Current,
        Features = ServiceFeatures.All,
        Endpoint = endpoint,
        MountCount = manager.Count,
        StartedAt = _startedAt,
        FileSystem = manager.FileSystemName,
    };
}
