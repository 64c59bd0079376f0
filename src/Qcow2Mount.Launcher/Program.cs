using Qcow2Mount.Control.Protocol;
using Qcow2Mount.Mounting;
using Qcow2Mount.Operations;

namespace Qcow2Mount.Launcher;

/// <summary>
/// Runs one Explorer verb (<see cref="Explorer.ExplorerRegistration.Verbs"/>): mounts the image and opens its drive,
/// or unmounts it. Every outcome ends the process within the mount budget; every failure is one dialog.
/// </summary>
internal static class Program
{
    private const int Success = 0;
    private const int Failed = 1;
    private const int Usage = 2;

    private static int Main(string[] args)
    {
        var request = LaunchRequest.Parse(args);
        if (request is null)
        {
            Dialogs.Error(LaunchRequest.Usage);
            return Usage;
        }

        try
        {
            return RunAsync(request).GetAwaiter().GetResult();
        }
#pragma warning disable CA1031 // Explorer's verb has no console: any failure becomes the error dialog.
        catch (Exception e)
#pragma warning restore CA1031
        {
            string action = request.Unmount ? "unmount" : "mount";
            Dialogs.Error($"Could not {action} {Path.GetFileName(request.ImagePath)}:{Environment.NewLine}{Environment.NewLine}{Describe(e)}");
            return Failed;
        }
    }

    private static async Task<int> RunAsync(LaunchRequest request)
    {
        string image = Path.GetFullPath(request.ImagePath);
        var service = ServiceMounts.FromConfiguration();
        using var budget = new CancellationTokenSource(service.Budget);
        try
        {
            var existing = await service.FindAsync(image, budget.Token).ConfigureAwait(false);
            if (request.Unmount)
            {
                if (existing is null)
                {
                    throw OperationException.FromService(ErrorCodes.NotMounted, $"{image} is not mounted");
                }

                await service.UnmountAsync(existing.MountPoint, budget.Token).ConfigureAwait(false);
                return Success;
            }

            // Double-clicking an image that is mounted already opens its drive.
            if (existing is not null)
            {
                Dialogs.Open(existing.MountPoint);
                return Success;
            }

            return await MountAsync(service, image, ModeOf(request.Mode!), budget.Token).ConfigureAwait(false);
        }
        catch (OperationCanceledException) when (budget.IsCancellationRequested)
        {
            throw new TimeoutException($"the mount service did not answer within {service.Budget.TotalSeconds:0} seconds");
        }
    }

    /// <summary>Mounts, asking for the password when the service says the image needs one (or the one typed was wrong).</summary>
    private static async Task<int> MountAsync(ServiceMounts service, string image, MountMode mode, CancellationToken cancellationToken)
    {
        string mountPoint = DriveLetters.NextFree();
        bool retry = false;
        while (true)
        {
            try
            {
                bool asked = retry;
                var mounted = await service.MountAsync(image, mountPoint, mode, () => Dialogs.Password(image, asked), cancellationToken)
                    .ConfigureAwait(false);
                Dialogs.Open(mounted.MountPoint);
                return Success;
            }
            catch (OperationException e) when (e.Code == OperationErrorCode.Password)
            {
                // A wrong password: ask again, saying so.
                retry = true;
            }
            catch (OperationCanceledException) when (!cancellationToken.IsCancellationRequested)
            {
                return Failed;
            }
        }
    }

    private static MountMode ModeOf(string protocolMode) => protocolMode switch
    {
        ControlMountModes.Writable => MountMode.Writable,
        ControlMountModes.Overlay => MountMode.Overlay,
        _ => MountMode.ReadOnly,
    };

    private static string Describe(Exception e) => e switch
    {
        OperationException or TimeoutException or IOException or UnauthorizedAccessException => e.Message,
        _ => $"internal error: {e.GetType().Name}: {e.Message}",
    };
}
