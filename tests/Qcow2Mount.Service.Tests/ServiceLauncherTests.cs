using System.Diagnostics;
using Qcow2Mount.Control;
using Qcow2Mount.Control.Protocol;
using Qcow2Mount.Service.Tests.Support;
using Qcow2Mount.TestSupport;

namespace Qcow2Mount.Service.Tests;

/// <summary>
/// After an upgrade or rebuild the service of the old build may still answer on the socket. A client of this build
/// replaces it when it has no mounts and warns (keeping it) when it has; <see cref="ServiceLauncher.StopAsync"/>
/// waits until the service is gone. The old service is a <see cref="FakeService"/> that reports another version;
/// the new one is a real service process of this build.
/// </summary>
[NonParallelizable]
[System.Runtime.Versioning.SupportedOSPlatform("linux")]
internal sealed class ServiceLauncherTests
{
    private const string OldVersion = "0.0.9+0123456789abcdef0123456789abcdef01234567";

    private TempDir _dir = null!;
    private readonly List<ServiceStatus> _warnings = [];

    private ControlEndpoint Endpoint => new() { SocketPath = _dir.Combine("run", "control.sock") };

    /// <summary>Options that fail loudly if the launcher starts anything: for the cases that must keep the running service.</summary>
    private ServiceLaunchOptions NoLaunch => new() { Endpoint = Endpoint, FileName = _dir.Combine("must-not-be-started") };

    [SetUp]
    public void SetUp()
    {
        if (!OperatingSystem.IsLinux())
        {
            Assert.Ignore("The fake service listens on a Unix socket and checks processes through /proc.");
        }

        _dir = new TempDir("launcher");
        _warnings.Clear();
    }

    [TearDown]
    public void TearDown()
    {
        if (_dir is not null)
        {
            // The services started here name the test's folder in their command line (the socket is in it).
            StrayServices.KillThoseNaming(_dir.Path);
            _dir.Dispose();
        }
    }

    [Test]
    public async Task A_service_of_another_version_without_mounts_is_replaced_by_one_of_this_build()
    {
        await using var old = FakeService.Start(Endpoint.SocketPath!, OldVersion, mountCount: 0);

        using var client = await ServiceLauncher.EnsureCurrentAsync(TestHostProcess.LaunchOptions(Endpoint), _warnings.Add);
        var status = await client.StatusAsync();

        Assert.Multiple(() =>
        {
            Assert.That(old.Requests.Where(r => r.Op == ControlOperations.Shutdown).Select(r => r.IfIdle), Is.EqualTo(new bool?[] { true }),
                "one shutdown, if idle");
            Assert.That(old.IsListening, Is.False, "the old service stopped");
            Assert.That(File.Exists(Endpoint.SocketPath), Is.True, "the new one listens on the same socket");
            Assert.That(status.Version, Is.EqualTo(BuildVersion.Current), "the new service is of this build");
            Assert.That(status.ProcessId, Is.Not.EqualTo(Environment.ProcessId), "a service process, not the fake");
            Assert.That(_warnings, Is.Empty);
        });
    }

    /// <summary>Several mounts right after an upgrade: every client replaces the old service, and all end up on one new one.</summary>
    [Test]
    public async Task Clients_replacing_the_same_old_service_at_once_share_one_new_service()
    {
        await using var old = FakeService.Start(Endpoint.SocketPath!, OldVersion, mountCount: 0);

        var clients = await Task.WhenAll(Enumerable.Range(0, 3).Select(_ =>
            Task.Run(() => ServiceLauncher.EnsureCurrentAsync(TestHostProcess.LaunchOptions(Endpoint), _warnings.Add))));
        var statuses = new List<ServiceStatus>();
        foreach (var client in clients)
        {
            using (client)
            {
                statuses.Add(await client.StatusAsync());
            }
        }

        // The services that lost the race exit on their own; none may stay behind, unreachable.
        for (var waited = Stopwatch.StartNew(); StrayServices.Naming(_dir.Path).Count > 1 && waited.Elapsed < TimeSpan.FromSeconds(10);)
        {
            await Task.Delay(50);
        }

        Assert.Multiple(() =>
        {
            Assert.That(statuses.Select(s => (s.ProcessId, s.Version)).Distinct().ToList(), Has.Count.EqualTo(1), "one service");
            Assert.That(StrayServices.Naming(_dir.Path), Is.EqualTo(new[] { statuses[0].ProcessId }), "service processes left running");
            Assert.That(statuses[0].Version, Is.EqualTo(BuildVersion.Current));
            Assert.That(old.IsListening, Is.False);
            Assert.That(_warnings, Is.Empty);
        });
    }

    [Test]
    public async Task A_service_of_another_version_with_mounts_keeps_serving_and_the_caller_is_told()
    {
        await using var old = FakeService.Start(Endpoint.SocketPath!, OldVersion, mountCount: 2);

        using var client = await ServiceLauncher.EnsureCurrentAsync(NoLaunch, _warnings.Add);
        var status = await client.StatusAsync();

        Assert.Multiple(() =>
        {
            Assert.That(_warnings.Select(w => (w.Version, w.MountCount, w.ProcessId)), Is.EqualTo(new[] { (OldVersion, 2, Environment.ProcessId) }));
            Assert.That(old.Requests.Select(r => r.Op), Has.None.EqualTo(ControlOperations.Shutdown), "its mounts are left alone");
            Assert.That(status.Version, Is.EqualTo(OldVersion), "the client talks to the old service");
        });
    }

    /// <summary>
    /// A service older than shutdown's ifIdle would take it as a plain shutdown and end a mount still starting (which
    /// its count does not show): without the feature in its status, it is kept even when it reports no mounts.
    /// </summary>
    [Test]
    public async Task A_service_that_does_not_know_shutdown_if_idle_is_kept_even_when_idle()
    {
        await using var old = FakeService.Start(Endpoint.SocketPath!, OldVersion, mountCount: 0, features: []);

        using var client = await ServiceLauncher.EnsureCurrentAsync(NoLaunch, _warnings.Add);

        Assert.Multiple(() =>
        {
            Assert.That(old.Requests.Select(r => r.Op), Has.None.EqualTo(ControlOperations.Shutdown));
            Assert.That(_warnings.Select(w => w.Version), Is.EqualTo(new[] { OldVersion }));
            Assert.That(old.IsListening, Is.True);
        });
    }

    /// <summary>Another client mounts on the old service between the status check and the shutdown: the shutdown if idle is refused.</summary>
    [Test]
    public async Task A_mount_arriving_before_the_shutdown_keeps_the_old_service()
    {
        await using var old = FakeService.Start(Endpoint.SocketPath!, OldVersion, mountCount: 0, FakeBehaviour.MountArrivesBeforeShutdown);

        using var client = await ServiceLauncher.EnsureCurrentAsync(NoLaunch, _warnings.Add);

        Assert.Multiple(() =>
        {
            Assert.That(_warnings.Select(w => (w.Version, w.MountCount)), Is.EqualTo(new[] { (OldVersion, 1) }));
            Assert.That(old.IsListening, Is.True);
        });
    }

    [Test]
    public async Task A_service_of_this_build_is_used_as_it_is()
    {
        await using var current = FakeService.Start(Endpoint.SocketPath!, BuildVersion.Current, mountCount: 0);

        using var client = await ServiceLauncher.EnsureCurrentAsync(NoLaunch, _warnings.Add);

        Assert.Multiple(() =>
        {
            Assert.That(current.Requests.Select(r => r.Op), Is.EqualTo(new[] { ControlOperations.Status }));
            Assert.That(_warnings, Is.Empty);
        });
    }

    [Test]
    public async Task Stop_returns_once_the_service_process_has_exited()
    {
        int pid;
        using (var client = await ServiceLauncher.EnsureRunningAsync(TestHostProcess.LaunchOptions(Endpoint)))
        {
            pid = (await client.StatusAsync()).ProcessId;
        }

        var stopped = await ServiceLauncher.StopAsync(Endpoint, TimeSpan.FromSeconds(30));

        Assert.Multiple(() =>
        {
            Assert.That(stopped?.ProcessId, Is.EqualTo(pid));
            Assert.That(stopped?.MountCount, Is.Zero);
            Assert.That(Processes.IsRunning(pid), Is.False, "the process has exited");
            Assert.That(File.Exists(Endpoint.SocketPath), Is.False, "the socket is removed");
        });
    }

    [Test]
    public async Task Stop_without_a_service_returns_nothing() =>
        Assert.That(await ServiceLauncher.StopAsync(Endpoint, TimeSpan.FromSeconds(5)), Is.Null);

    [Test]
    public async Task Stop_gives_up_on_a_service_that_does_not_exit()
    {
        await using var stuck = FakeService.Start(Endpoint.SocketPath!, BuildVersion.Current, mountCount: 1, FakeBehaviour.NeverExits);
        var watch = Stopwatch.StartNew();

        var error = Assert.ThrowsAsync<ControlException>(() => ServiceLauncher.StopAsync(Endpoint, TimeSpan.FromSeconds(1)))!;

        Assert.Multiple(() =>
        {
            Assert.That(error.Code, Is.EqualTo(ErrorCodes.Timeout));
            Assert.That(error.Message, Does.Contain("had not exited after 1 s"));
            Assert.That(watch.Elapsed, Is.LessThan(TimeSpan.FromSeconds(10)));
        });
    }
}
