using System.Text;
using Qcow2Mount.Control.Protocol;
using Qcow2Mount.Mounting;
using Qcow2Mount.Operations;

namespace Qcow2Mount.Launcher;

/// <summary>
/// The launcher's only contact with the mount service, through the operations core's <see cref="MountClient"/>:
/// mount (starting <c>qcow2mount.exe serve</c> beside this program when none answers), find a mount, unmount.
/// </summary>
internal sealed class ServiceMounts
{
    private static readonly TimeSpan ServiceStart = TimeSpan.FromSeconds(20);

    private readonly MountClient _client;

    private ServiceMounts(MountClient client) => _client = client;

    /// <summary>The service is the qcow2mount beside this program: its own path would start the launcher instead.</summary>
    public static ServiceMounts FromConfiguration() => new(new MountClient(new MountClientOptions
    {
        ServiceProgram = Path.Combine(AppContext.BaseDirectory, OperatingSystem.IsWindows() ? "qcow2mount.exe" : "qcow2mount"),
    }));

    /// <summary>How long a mount may take before the launcher gives up: the service's own mount timeout, plus its start.</summary>
    public TimeSpan Budget => _client.MountTimeout + ServiceStart + TimeSpan.FromSeconds(10);

    /// <summary>The mount of <paramref name="imagePath"/>, or null when it is not mounted (or no service runs).</summary>
    public async Task<MountInfo?> FindAsync(string imagePath, CancellationToken cancellationToken)
    {
        var mounts = await _client.ListAsync(cancellationToken).ConfigureAwait(false);
        return mounts.FirstOrDefault(m => string.Equals(m.Image, imagePath, StringComparison.OrdinalIgnoreCase));
    }

    /// <summary>Mounts; <paramref name="password"/> answers the core only when the image is encrypted.</summary>
    public Task<MountInfo> MountAsync(string imagePath, string mountPoint, MountMode mode, Func<char[]?> password, CancellationToken cancellationToken) =>
        _client.MountAsync(new MountImageOptions
        {
            Image = imagePath,
            MountPoint = mountPoint,
            Mode = mode,
            Passwords = new DialogPasswords(password),
        }, cancellationToken);

    public Task<MountInfo> UnmountAsync(string mountPoint, CancellationToken cancellationToken) =>
        _client.UnmountAsync(new UnmountOptions { Target = mountPoint }, cancellationToken);

    /// <summary>Asks the dialog, only when the core finds the image encrypted; the typed characters are cleared at once.</summary>
    private sealed class DialogPasswords(Func<char[]?> ask) : IPasswordProvider
    {
        public ValueTask<byte[]?> GetPasswordAsync(PasswordRequest request, CancellationToken cancellationToken)
        {
            char[]? typed = ask();
            if (typed is null)
            {
                throw new OperationCanceledException("the password dialog was cancelled");
            }

            try
            {
                return ValueTask.FromResult<byte[]?>(Encoding.UTF8.GetBytes(typed));
            }
            finally
            {
                Array.Clear(typed);
            }
        }
    }
}
