using Microsoft.Extensions.Hosting;
using Qcow2Mount.Control;
using Qcow2Mount.Fuse;
using Qcow2Mount.Service.Configuration;
using Qcow2Mount.Service.Hosting;
using Qcow2Mount.TestSupport;

namespace Qcow2Mount.Service.Tests.Support;

/// <summary>
/// The service hosted in the test process on a private socket, with mount directories that are always unmounted
/// in <see cref="DisposeAsync"/>, whatever the test did.
/// </summary>
internal sealed class ServiceSession : IAsyncDisposable
{
    private readonly List<string> _mountDirs = [];

    private ServiceSession(TempDir dir, ServiceSettings settings, IHost host)
    {
        Dir = dir;
        Settings = settings;
        Host = host;
    }

    public TempDir Dir { get; }

    public ServiceSettings Settings { get; }

    public IHost Host { get; }

    public ControlEndpoint Endpoint => Settings.Control.Endpoint;

    public static ServiceSettings SettingsIn(TempDir dir) => new()
    {
        Control = new ControlSettings { SocketPath = Path.Combine(dir.Path, "run", "control.sock") },
        Mount = new MountSettings { TimeoutSeconds = 15 },
        Logging = new LoggingSettings { LogLevel = Microsoft.Extensions.Logging.LogLevel.Warning },
    };

    /// <param name="settings">The whole settings; default <see cref="SettingsIn"/> the session's folder.</param>
    /// <param name="adjust">Changes to the default settings (ignored when <paramref name="settings"/> is given).</param>
    public static async Task<ServiceSession> StartAsync(ServiceSettings? settings = null, Func<ServiceSettings, ServiceSettings>? adjust = null)
    {
        var dir = new TempDir("svc");
        settings ??= (adjust ?? (s => s))(SettingsIn(dir));
        var host = ServiceHost.Build(settings, new FuseHost(), handleSignals: false);
        await host.StartAsync().ConfigureAwait(false);
        return new ServiceSession(dir, settings, host);
    }

    public Task<ControlClient> ConnectAsync() => ControlClient.ConnectAsync(Endpoint, TimeSpan.FromSeconds(5));

    /// <summary>A new empty directory to mount on; unmounted (lazily, if need be) when the session ends.</summary>
    public string NewMountDir(string name = "mnt")
    {
        string path = Dir.Combine($"{name}-{_mountDirs.Count}");
        Directory.CreateDirectory(path);
        _mountDirs.Add(path);
        return path;
    }

    public async ValueTask DisposeAsync()
    {
        try
        {
            using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(60));
            await Host.StopAsync(timeout.Token).ConfigureAwait(false);
        }
        finally
        {
            Host.Dispose();
            foreach (string dir in _mountDirs)
            {
                CleanUpMount(dir);
            }

            Dir.Dispose();
        }
    }

    /// <summary>Last resort so a failed test never leaves a mount behind.</summary>
    public static void CleanUpMount(string dir)
    {
        if (IsMountPoint(dir))
        {
            TestContext.Out.WriteLine($"Stale mount at {dir}: detaching it");
            ExternalTool.Run("fusermount3", ["-u", "-z", dir]);
        }
    }

    public static bool IsMountPoint(string path) =>
        File.ReadLines("/proc/self/mountinfo").Any(line => line.Split(' ')[4] == path);
}
