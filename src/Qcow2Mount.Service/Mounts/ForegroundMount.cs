using System.Runtime.InteropServices;
using Microsoft.Extensions.Logging;
using Qcow2Mount.Control.Protocol;
using Qcow2Mount.Mounting;
using Qcow2Mount.Service.Configuration;

namespace Qcow2Mount.Service.Mounts;

/// <summary>Foreground mounts for <c>qcow2mount mount --foreground</c>: no service, the caller's process serves the mount.</summary>
public static class ForegroundMount
{
    /// <summary>
    /// Mounts <paramref name="request"/> in this process and blocks until it is unmounted from outside, or until
    /// Ctrl+C / SIGTERM (then unmounts cleanly). Returns the mount once its image is closed.
    /// </summary>
    public static async Task<MountInfo> RunAsync(IFileSystemHost host, ServiceSettings settings, MountRequest request,
        Action<MountInfo>? mounted = null, ILoggerFactory? loggerFactory = null, CancellationToken cancellationToken = default)
    {
        using var stop = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        void OnSignal(PosixSignalContext context)
        {
            context.Cancel = true;
            stop.Cancel();
        }

        using var interrupt = PosixSignalRegistration.Create(PosixSignal.SIGINT, OnSignal);
        using var terminate = PosixSignalRegistration.Create(PosixSignal.SIGTERM, OnSignal);
        using var manager = new MountManager(host, settings, loggerFactory?.CreateLogger<MountManager>());
        return await manager.RunForegroundAsync(request, mounted, stop.Token).ConfigureAwait(false);
    }
}
