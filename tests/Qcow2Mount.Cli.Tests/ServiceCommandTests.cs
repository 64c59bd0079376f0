using System.Text.Json;
using Qcow2Mount.Control;
using Qcow2Mount.Fuse;

namespace Qcow2Mount.Cli.Tests;

/// <summary>
/// <c>status</c> and <c>stop</c>, pointed at a private socket through <c>QCOW2MOUNT_Control__SocketPath</c> (never the
/// user's own service): with no service, and with a real service process of this build.
/// </summary>
[NonParallelizable] // sets a process environment variable
internal sealed class ServiceCommandTests
{
    private const string SocketVariable = "QCOW2MOUNT_Control__SocketPath";

    private TempDir _dir = null!;
    private string? _previousSocket;
    private readonly List<string> _mountDirs = [];

    private string SocketPath => _dir.Combine("run", "control.sock");

    [SetUp]
    public void SetUp()
    {
        if (OperatingSystem.IsWindows())
        {
            Assert.Ignore("These tests point the CLI at a Unix socket.");
        }

        _dir = new TempDir("svccmd");
        _previousSocket = Environment.GetEnvironmentVariable(SocketVariable);
        Environment.SetEnvironmentVariable(SocketVariable, SocketPath);
        _mountDirs.Clear();
    }

    [TearDown]
    public void TearDown()
    {
        Environment.SetEnvironmentVariable(SocketVariable, _previousSocket);
        if (_dir is null)
        {
            return;
        }

        // The service started here names the test's folder in its command line (the socket is in it); stop kills none.
        StrayServices.KillThoseNaming(_dir.Path);
        foreach (string dir in _mountDirs.Where(IsMountPoint))
        {
            ExternalTool.Run("fusermount3", ["-u", "-z", dir]);
        }

        _dir.Dispose();
    }

    [Test]
    public void Status_without_a_service_says_so_and_exits_13()
    {
        var result = CliRunner.Run("status");

        Assert.Multiple(() =>
        {
            Assert.That(result.ExitCode, Is.EqualTo(ExitCodes.Service));
            Assert.That(result.Output.Trim(), Is.EqualTo($"no mount service is running at {SocketPath}"));
            Assert.That(result.Error, Is.Empty);
        });
    }

    [Test]
    public void Status_json_without_a_service_says_not_running_and_exits_13()
    {
        var result = CliRunner.Run("status", "--json");

        using var json = JsonDocument.Parse(result.Output);
        Assert.Multiple(() =>
        {
            Assert.That(result.ExitCode, Is.EqualTo(ExitCodes.Service));
            Assert.That(json.RootElement.EnumerateObject().Select(p => p.Name), Is.EqualTo(new[] { "running", "endpoint" }));
            Assert.That(json.RootElement.GetProperty("running").GetBoolean(), Is.False);
            Assert.That(json.RootElement.GetProperty("endpoint").GetString(), Is.EqualTo(SocketPath));
        });
    }

    [Test]
    public void Stop_without_a_service_is_not_an_error()
    {
        var result = CliRunner.Run("stop").Succeeded();

        Assert.That(result.Output, Does.StartWith("no mount service is running"));
    }

    [Test]
    public async Task Status_describes_a_running_service_and_stop_ends_it()
    {
        int pid = await StartServiceAsync();

        var text = CliRunner.Run("status").Succeeded();
        var json = CliRunner.Run("status", "--json").Succeeded();
        var stop = CliRunner.Run("stop").Succeeded();
        var after = CliRunner.Run("status");

        var lines = text.Output.TrimEnd().Split('\n').Select(line => line.Split(": ", 2)).ToDictionary(kv => kv[0], kv => kv[1]);
        using var document = JsonDocument.Parse(json.Output);
        var root = document.RootElement;
        Assert.Multiple(() =>
        {
            Assert.That(lines.Keys, Is.EqualTo(new[] { "pid", "version", "endpoint", "file-system", "drivers", "started-at", "mount-count" }));
            Assert.That(lines["drivers"], Is.EqualTo("fuse (Mount:FileSystem=auto)"));
            Assert.That(lines["pid"], Is.EqualTo(pid.ToString(System.Globalization.CultureInfo.InvariantCulture)));
            Assert.That(lines["version"], Is.EqualTo(BuildVersion.Current));
            Assert.That(lines["endpoint"], Is.EqualTo(SocketPath));
            Assert.That(lines["mount-count"], Is.EqualTo("0"));
            Assert.That(DateTimeOffset.Parse(lines["started-at"], System.Globalization.CultureInfo.InvariantCulture),
                Is.EqualTo(DateTimeOffset.UtcNow).Within(TimeSpan.FromMinutes(5)));

            Assert.That(root.EnumerateObject().Select(p => p.Name),
                Is.EqualTo(new[] { "running", "pid", "version", "endpoint", "file-system", "drivers", "started-at", "mount-count" }));
            Assert.That(root.GetProperty("running").GetBoolean(), Is.True);
            Assert.That(root.GetProperty("pid").GetInt32(), Is.EqualTo(pid));
            Assert.That(root.GetProperty("version").GetString(), Is.EqualTo(BuildVersion.Current));
            Assert.That(root.GetProperty("mount-count").GetInt32(), Is.Zero);

            Assert.That(stop.Output.Trim(), Is.EqualTo($"stopped the mount service (pid {pid}; unmounted 0)"));
            Assert.That(Processes.IsRunning(pid), Is.False, "stop returned once the service had exited");
            Assert.That(after.ExitCode, Is.EqualTo(ExitCodes.Service));
        });
    }

    [Test]
    public async Task Stop_unmounts_what_the_service_has_mounted()
    {
        RequireFuse();
        int pid = await StartServiceAsync();
        string image = _dir.Combine("disk.qcow2");
        CliRunner.Run("create", image, "8M").Succeeded();
        string mountDir = _dir.Combine("mnt");
        Directory.CreateDirectory(mountDir);
        _mountDirs.Add(mountDir);
        CliRunner.Run("mount", image, mountDir).Succeeded();

        var status = CliRunner.Run("status").Succeeded();
        var stop = CliRunner.Run("stop").Succeeded();

        Assert.Multiple(() =>
        {
            Assert.That(status.Output, Does.Contain("mount-count: 1"));
            Assert.That(stop.Output.Trim(), Is.EqualTo($"stopped the mount service (pid {pid}; unmounted 1)"));
            Assert.That(IsMountPoint(mountDir), Is.False);
        });
    }

    /// <summary>Starts this build's qcow2mount serve on the private socket, as its own process; returns its pid.</summary>
    private async Task<int> StartServiceAsync()
    {
        if (!OperatingSystem.IsLinux())
        {
            Assert.Ignore("These tests look at the service process through /proc.");
        }

        var endpoint = new ControlEndpoint { SocketPath = SocketPath };
        // The CLI is built beside the tests: run it under the same dotnet host, or as its own executable.
        string directory = TestContext.CurrentContext.TestDirectory;
        bool underDotnet = Path.GetFileNameWithoutExtension(Environment.ProcessPath) == "dotnet";
        var options = new ServiceLaunchOptions
        {
            Endpoint = endpoint,
            FileName = underDotnet ? Environment.ProcessPath! : Path.Combine(directory, "qcow2mount"),
            Arguments = [.. underDotnet ? [Path.Combine(directory, "qcow2mount.dll")] : Array.Empty<string>(), "serve",
                .. ServiceLaunchOptions.ServeArguments(endpoint), "--Mount:TimeoutSeconds=15"],
        };
        using var client = await ServiceLauncher.EnsureRunningAsync(options);
        int pid = (await client.StatusAsync()).ProcessId;
        Assert.That(pid, Is.Not.EqualTo(Environment.ProcessId), "a service process of its own");
        return pid;
    }

    private static void RequireFuse()
    {
        if (!OperatingSystem.IsLinux() || !File.Exists("/dev/fuse"))
        {
            Assert.Ignore("FUSE mounts need Linux with /dev/fuse (load the fuse module; in a container, pass the device).");
        }

        ExternalTool.RequireTool("fusermount3");
        if (!new FuseHost().IsAvailable(out string reason))
        {
            Assert.Ignore($"FUSE unavailable: {reason}");
        }
    }

    private static bool IsMountPoint(string path) =>
        File.ReadLines("/proc/self/mountinfo").Any(line => line.Split(' ')[4] == path);
}
