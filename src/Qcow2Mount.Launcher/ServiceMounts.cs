using Qcow2Mount.Control;
using Qcow2Mount.Control.Protocol;
using Qcow2Mount.Service.Configuration;

namespace Qcow2Mount.Launcher;

/// <summary>
/// The launcher's only contact with the mount service: mount (starting the service when none answers), find a mount,
/// unmount, as <c>qcow2mount mount/list/unmount</c> do. Written against ControlClient and ServiceLauncher as they
/// are; when the operations core exists, each method becomes one call into it.
/// </summary>
internal sealed class ServiceMounts(ServiceSettings settings)
{
    /// <summary>The settings qcow2mount reads (its configuration file, environment); the endpoint comes from them.</summary>
    public static ServiceMounts FromConfiguration() => new(Qcow2MountConfiguration.Load(Qcow2MountConfiguration.Build()));

    /// <summary>How long a mount may take before the launcher gives up: the service's own mount timeout, plus its start.</summary>
    public TimeSpan Budget => TimeSpan.FromSeconds(settings.Mount.TimeoutSeconds) + ServiceStart + TimeSpan.FromSeconds(10);

    private static readonly TimeSpan ServiceStart = TimeSpan.FromSeconds(20);

    /// <summary>The mount of <paramref name="imagePath"/>, or null when it is not mounted (or no service runs).</summary>
    public async Task<MountInfo?> FindAsync(string imagePath, CancellationToken cancellationToken)
    {
        using var client = await ServiceLauncher.TryConnectAsync(settings.Control.Endpoint, cancellationToken).ConfigureAwait(false);
        if (client is null)
        {
            return null;
        }

        var mounts = await client.ListAsync(cancellationToken).ConfigureAwait(false);
        return mounts.FirstOrDefault(m => string.Equals(m.Image, imagePath, StringComparison.OrdinalIgnoreCase));
    }

    public async Task<MountInfo> MountAsync(string imagePath, string mountPoint, string mode, string? password, CancellationToken cancellationToken)
    {
        using var client = await ServiceLauncher.EnsureCurrentAsync(ServiceOptions(), cancellationToken: cancellationToken).ConfigureAwait(false);
        return await client.MountAsync(imagePath, mountPoint, mode, password: password, cancellationToken: cancellationToken).ConfigureAwait(false);
    }

    public async Task<MountInfo> UnmountAsync(string mountPoint, CancellationToken cancellationToken)
    {
        using var client = await ServiceLauncher.TryConnectAsync(settings.Control.Endpoint, cancellationToken).ConfigureAwait(false)
            ?? throw new ControlException(ErrorCodes.NotMounted, "no mount service is running, so nothing is mounted");
        return await client.UnmountAsync(mountPoint, cancellationToken: cancellationToken).ConfigureAwait(false);
    }

    /// <summary>
    /// The service is <c>qcow2mount.exe serve</c> beside this program, started exactly as the CLI starts it (its own
    /// options for the executable this process runs would start the launcher instead).
    /// </summary>
    private ServiceLaunchOptions ServiceOptions()
    {
        var own = ServiceLaunchOptions.ForCurrentProcess(settings.Control.Endpoint);
        string cli = Path.Combine(AppContext.BaseDirectory, OperatingSystem.IsWindows() ? "qcow2mount.exe" : "qcow2mount");
        return own with
        {
            FileName = cli,
            Arguments = ["serve", .. ServiceLaunchOptions.ServeArguments(settings.Control.Endpoint)],
            StartTimeout = ServiceStart,
        };
    }
}
