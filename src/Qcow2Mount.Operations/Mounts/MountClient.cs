using Qcow2Mount.Control;
using Qcow2Mount.Control.Protocol;
using Qcow2Mount.Mounting;

namespace Qcow2Mount.Operations;

/// <summary>How a <see cref="MountClient"/> finds (and, when needed, starts) the mount service.</summary>
public sealed record MountClientOptions
{
    /// <summary>
    /// The qcow2mount executable (or its <c>.dll</c>) whose <c>serve</c> is started when no service answers. Null:
    /// this process when it is qcow2mount, otherwise a <c>qcow2mount</c> beside this assembly (see
    /// <see cref="MountClient.DefaultServiceProgram"/>).
    /// </summary>
    public string? ServiceProgram { get; init; }

    /// <summary>Where the service listens; null reads it from the service's configuration (its files and environment).</summary>
    public ControlEndpoint? Endpoint { get; init; }

    /// <summary>Configuration overrides passed to a service this client starts (<c>--Mount:TimeoutSeconds=15</c>).</summary>
    public IReadOnlyList<string> ServiceArguments { get; init; } = [];

    /// <summary>
    /// Told when the running service is of another version and keeps serving because it has mounts (a new one
    /// replaces an idle one); the front end may warn that it keeps running until stopped.
    /// </summary>
    public Action<ServiceStatus>? KeptOtherVersion { get; init; }
}

/// <summary>
/// The client flows of the mount service: mount (starting the service when none runs), unmount by mount point or
/// image, list, status and stop. Each call connects, asks, and disconnects; failures are
/// <see cref="OperationException"/>s (<see cref="OperationErrorCode.Service"/> with the protocol's code, or the
/// engine condition the service reported).
/// </summary>
public sealed class MountClient
{
    private const string ProgramName = "qcow2mount";

    private readonly MountClientOptions _options;
    private readonly Lazy<ServiceSettingsFiles> _settings;

    public MountClient(MountClientOptions? options = null)
    {
        _options = options ?? new MountClientOptions();
        ServiceProgram = _options.ServiceProgram ?? DefaultServiceProgram();
        _settings = new(() => ServiceSettingsFiles.Read(Path.GetDirectoryName(Path.GetFullPath(ServiceProgram)) ?? AppContext.BaseDirectory));
    }

    /// <summary>The program whose <c>serve</c> this client starts.</summary>
    public string ServiceProgram { get; }

    /// <summary>Where this client looks for the service.</summary>
    public ControlEndpoint Endpoint => _options.Endpoint ?? _settings.Value.Endpoint;

    /// <summary>How long the service may take to mount (its <c>Mount:TimeoutSeconds</c>), for front ends that bound their wait.</summary>
    public TimeSpan MountTimeout => _settings.Value.MountTimeout;

    /// <summary>
    /// This process's executable when it is qcow2mount (or <c>dotnet qcow2mount.dll</c>); otherwise the qcow2mount
    /// executable beside this assembly, or its <c>.dll</c> there. A host such as pwsh is never started as the service.
    /// </summary>
    [System.Diagnostics.CodeAnalysis.UnconditionalSuppressMessage("SingleFile", "IL3000:Avoid accessing Assembly file path when publishing as a single file",
        Justification = "An empty Location (single-file or native builds) falls back to AppContext.BaseDirectory, which is then the program's folder.")]
    public static string DefaultServiceProgram()
    {
        if (Environment.ProcessPath is { } process && Path.GetFileNameWithoutExtension(process).Equals(ProgramName, StringComparison.OrdinalIgnoreCase))
        {
            return process;
        }

        if (System.Reflection.Assembly.GetEntryAssembly()?.GetName().Name == ProgramName
            && Path.Combine(AppContext.BaseDirectory, ProgramName + ".dll") is var entry && File.Exists(entry))
        {
            return entry;
        }

        string directory = Path.GetDirectoryName(typeof(MountClient).Assembly.Location) is { Length: > 0 } here ? here : AppContext.BaseDirectory;
        foreach (string name in (string[])[ProgramName + (OperatingSystem.IsWindows() ? ".exe" : ""), ProgramName + ".dll"])
        {
            if (Path.Combine(directory, name) is var candidate && File.Exists(candidate))
            {
                return candidate;
            }
        }

        return Path.Combine(directory, ProgramName + (OperatingSystem.IsWindows() ? ".exe" : ""));
    }

    /// <summary>Mounts an image through the service, starting one of this build when none answers.</summary>
    public Task<MountInfo> MountAsync(MountImageOptions options, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(options);
        return GuardAsync(async () =>
        {
            string image = Path.GetFullPath(options.Image);
            var password = await ImagePasswords.ForImageAsync(options.Passwords, options.Image, null, cancellationToken).ConfigureAwait(false);
            var launch = ServiceLaunchOptions.ForProgram(ServiceProgram, Endpoint, _options.ServiceArguments);
            using var client = await ServiceLauncher.EnsureCurrentAsync(launch, _options.KeptOtherVersion, cancellationToken).ConfigureAwait(false);
            return await client.MountAsync(new ControlMountRequest
            {
                Image = image,
                MountPoint = Mounting.Windows.MountPoints.ForRequest(options.MountPoint),
                Mode = options.Mode is { } mode ? ProtocolName(mode) : null,
                Snapshot = options.Snapshot,
                Overlay = options.OverlayPath is { } path ? Path.GetFullPath(path) : null,
                KeepOverlay = options.KeepOverlay,
                ForceShare = options.ForceShare,
                Password = password is null ? null : System.Text.Encoding.UTF8.GetString(password),
            }, cancellationToken).ConfigureAwait(false);
        });
    }

    /// <summary>
    /// Unmounts the mount at <c>options.Target</c>, or the mount of the image file of that name; returns once its
    /// image is flushed and closed (<see cref="MountInfo.StillOpen"/>: forced while files were open).
    /// </summary>
    public Task<MountInfo> UnmountAsync(UnmountOptions options, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(options);
        return GuardAsync(async () =>
        {
            using var client = await ServiceLauncher.TryConnectAsync(Endpoint, cancellationToken).ConfigureAwait(false)
                ?? throw OperationException.FromService(ErrorCodes.NotMounted, "no mount service is running, so nothing is mounted");
            string path = Mounting.Windows.MountPoints.ForRequest(options.Target);
            var mounts = await client.ListAsync(cancellationToken).ConfigureAwait(false);
            var match = mounts.FirstOrDefault(m => PathsEqual(m.MountPoint, path)) ?? mounts.FirstOrDefault(m => PathsEqual(m.Image, path));
            return await client.UnmountAsync(match?.MountPoint ?? path, options.Force, cancellationToken).ConfigureAwait(false);
        });
    }

    /// <summary>Every mount of the running service, in mount order; none when no service runs.</summary>
    public Task<IReadOnlyList<MountInfo>> ListAsync(CancellationToken cancellationToken = default) => GuardAsync(async () =>
    {
        using var client = await ServiceLauncher.TryConnectAsync(Endpoint, cancellationToken).ConfigureAwait(false);
        return client is null ? [] : await client.ListAsync(cancellationToken).ConfigureAwait(false);
    });

    /// <summary>The running service's status; null when none answers.</summary>
    public Task<ServiceStatus?> StatusAsync(CancellationToken cancellationToken = default) => GuardAsync(async () =>
    {
        using var client = await ServiceLauncher.TryConnectAsync(Endpoint, cancellationToken).ConfigureAwait(false);
        return client is null ? null : (ServiceStatus?)await client.StatusAsync(cancellationToken).ConfigureAwait(false);
    });

    /// <summary>
    /// Unmounts everything and stops the service; returns its status from just before (pid, mount count), or null
    /// when none was running. Waits as long as the service may take to unmount everything at exit.
    /// </summary>
    public Task<ServiceStatus?> StopAsync(CancellationToken cancellationToken = default) => GuardAsync(async () =>
    {
        // The service's own budget for unmounting everything at exit is twice the mount timeout (ServiceHost).
        var timeout = (2 * _settings.Value.MountTimeout) + TimeSpan.FromSeconds(5);
        return await ServiceLauncher.StopAsync(Endpoint, timeout, cancellationToken).ConfigureAwait(false);
    });

    /// <summary>The protocol's spelling of <paramref name="mode"/>.</summary>
    public static string ProtocolName(MountMode mode) => mode switch
    {
        MountMode.Writable => ControlMountModes.Writable,
        MountMode.Overlay => ControlMountModes.Overlay,
        MountMode.Snapshot => ControlMountModes.Snapshot,
        _ => ControlMountModes.ReadOnly,
    };

    /// <summary>Windows paths and drive letters compare without case, as Windows compares them; elsewhere exactly.</summary>
    private static bool PathsEqual(string a, string b) =>
        string.Equals(a.TrimEnd('\\', '/'), b.TrimEnd('\\', '/'), OperatingSystem.IsWindows() ? StringComparison.OrdinalIgnoreCase : StringComparison.Ordinal);

    private static async Task<T> GuardAsync<T>(Func<Task<T>> body)
    {
        try
        {
            return await body().ConfigureAwait(false);
        }
        catch (Exception e) when (OperationException.Translate(e) is var translated && !ReferenceEquals(translated, e))
        {
            throw translated;
        }
    }
}
