using System.Text.Json;

namespace Qcow2Mount.Windows.Tests;

/// <summary>
/// The service of the Windows build on its named pipe: started on demand by <c>mount</c>, which then fails with the
/// one line naming WinFsp and Dokany (no driver exists under Wine) and its own exit code; then <c>status</c>,
/// <c>list</c>, two clients at once and <c>stop</c>. Each test uses a pipe name of its own. Every client connects with
/// PipeOptions.CurrentUserOnly, so each answer also shows the owner check accepting the user's own service; a pipe
/// of another user cannot be made under Wine (one user runs everything), so its refusal is not shown here.
/// </summary>
[TestFixture]
internal sealed class WindowsServiceTests
{
    private const int NoFileSystemDriver = 15;
    private const int ServiceError = 13;

    private WindowsBuild _windows = null!;
    private Dictionary<string, string?> _environment = null!;
    private string _pipe = null!;

    [SetUp]
    public void SetUp()
    {
        _windows = WindowsBuild.Require();
        _pipe = $"qcow2mount-test-{Guid.NewGuid():N}";
        _environment = new Dictionary<string, string?> { ["QCOW2MOUNT_Control__PipeName"] = _pipe };
    }

    [TearDown]
    public void TearDown()
    {
        if (_windows is not null && _environment is not null)
        {
            Run("stop");
        }
    }

    [Test]
    public void Mount_without_WinFsp_or_Dokany_fails_with_one_line_naming_both_and_its_own_exit_code()
    {
        using var dir = new TempDir("windows-mount");
        string image = dir.Combine("my disk.qcow2");
        _windows.Run("create", _windows.WindowsPath(image), "16M").EnsureSuccess();

        foreach (string mountPoint in new[] { "M:", @"Y:\", _windows.WindowsPath(dir.Combine("empty folder")) })
        {
            var mount = Run("mount", _windows.WindowsPath(image), mountPoint);
            Assert.That(mount.ExitCode, Is.EqualTo(NoFileSystemDriver), WindowsBuild.Describe(mount));
            string[] lines = mount.StandardError.Trim().Split('\n');
            Assert.That(lines, Has.Length.EqualTo(1), WindowsBuild.Describe(mount));
            Assert.That(lines[0], Does.Contain("neither WinFsp nor Dokany 2.x is installed")
                .And.Contain("https://winfsp.dev/rel/").And.Contain("https://github.com/dokan-dev/dokany/releases"));
            Assert.That(mount.StandardOutput, Is.Empty);
        }

        // The refused mount changed nothing: nothing is mounted, the image is as created.
        var list = Run("list", "--json");
        Assert.That(list.ExitCode, Is.Zero, WindowsBuild.Describe(list));
        Assert.That(list.StandardOutput.Trim(), Is.EqualTo("[]"));
        _windows.Run("check", _windows.WindowsPath(image)).EnsureSuccess();

        var foreground = Run("mount", "--foreground", _windows.WindowsPath(image), "M:");
        Assert.That(foreground.ExitCode, Is.EqualTo(NoFileSystemDriver), WindowsBuild.Describe(foreground));
        Assert.That(foreground.StandardError, Does.Contain("neither WinFsp nor Dokany 2.x is installed"));
    }

    [Test]
    public void The_service_starts_on_demand_and_answers_status_list_and_stop_on_its_pipe()
    {
        var before = Run("status");
        Assert.That(before.ExitCode, Is.EqualTo(ServiceError), WindowsBuild.Describe(before));
        Assert.That(before.StandardOutput, Does.Contain($@"no mount service is running at \\.\pipe\{_pipe}"));

        // mount starts the service (and is refused: no driver); the service stays for later clients.
        using var dir = new TempDir("windows-service");
        string image = dir.Combine("disk.qcow2");
        _windows.Run("create", _windows.WindowsPath(image), "16M").EnsureSuccess();
        Assert.That(Run("mount", _windows.WindowsPath(image), "M:").ExitCode, Is.EqualTo(NoFileSystemDriver));

        var status = Run("status", "--json");
        Assert.That(status.ExitCode, Is.Zero, WindowsBuild.Describe(status));
        int pid;
        using (var json = JsonDocument.Parse(status.StandardOutput))
        {
            var root = json.RootElement;
            Assert.That(root.GetProperty("running").GetBoolean(), Is.True);
            Assert.That(root.GetProperty("endpoint").GetString(), Is.EqualTo($@"\\.\pipe\{_pipe}"));
            Assert.That(root.GetProperty("file-system").GetString(), Is.EqualTo("auto"), "Mount:FileSystem, since no driver is there");
            Assert.That(root.GetProperty("drivers").GetString(), Does.Contain("installed: none").And.Contain("adapters in this build:"));
            Assert.That(root.GetProperty("mount-count").GetInt32(), Is.Zero);
            pid = root.GetProperty("pid").GetInt32();
        }

        // Two clients at once, each its own process and pipe connection: both get answers from the same service.
        var clients = Task.WhenAll(
            _windows.RunAsync(["status", "--json"], _environment),
            _windows.RunAsync(["list", "--json"], _environment),
            _windows.RunAsync(["status", "--json"], _environment));
        var results = clients.GetAwaiter().GetResult();
        Assert.That(results.Select(r => r.ExitCode), Is.All.Zero, string.Join("\n", results.Select(WindowsBuild.Describe)));
        Assert.That(results[1].StandardOutput.Trim(), Is.EqualTo("[]"));
        foreach (var result in new[] { results[0], results[2] })
        {
            using var json = JsonDocument.Parse(result.StandardOutput);
            Assert.That(json.RootElement.GetProperty("pid").GetInt32(), Is.EqualTo(pid));
        }

        var stop = Run("stop");
        Assert.That(stop.ExitCode, Is.Zero, WindowsBuild.Describe(stop));
        Assert.That(stop.StandardOutput, Does.Contain($"stopped the mount service (pid {pid}; unmounted 0)"));
        Assert.That(Run("status").ExitCode, Is.EqualTo(ServiceError), "gone after stop");
        Assert.That(Run("stop").StandardOutput, Does.Contain("no mount service is running"), "stopping nothing is no error");
    }

    [Test]
    public void The_detached_service_logs_under_LOCALAPPDATA()
    {
        using var dir = new TempDir("windows-log");
        string image = dir.Combine("disk.qcow2");
        _windows.Run("create", _windows.WindowsPath(image), "16M").EnsureSuccess();
        Assert.That(Run("mount", _windows.WindowsPath(image), "M:").ExitCode, Is.EqualTo(NoFileSystemDriver));
        Run("stop").EnsureSuccess();

        string log = LinuxPathOf(Path.Combine(Variable("LOCALAPPDATA"), "Qcow2Mount", "service.log").Replace('/', '\\'));
        Assert.That(File.Exists(log), Is.True, $"{log} exists");
        string text = File.ReadAllText(log);
        Assert.That(text, Does.Contain($@"listening at \\.\pipe\{_pipe}"));
        Assert.That(text, Does.Contain("neither WinFsp nor Dokany 2.x is installed"), "the refused mount is logged");
    }

    [Test]
    public void Config_names_the_file_system_setting_and_the_drivers()
    {
        var config = Run("config");
        Assert.That(config.ExitCode, Is.Zero, WindowsBuild.Describe(config));
        Assert.That(config.StandardOutput, Does.Contain("Mount:FileSystem = auto"));
        Assert.That(config.StandardOutput, Does.Contain("file system: none (neither WinFsp nor Dokany 2.x is installed"));
        Assert.That(config.StandardOutput, Does.Contain("installed: none"));

        var dokan = Run("config", "--Mount:FileSystem=dokan");
        Assert.That(dokan.StandardOutput, Does.Contain("Mount:FileSystem=dokan, but Dokany 2.x is not installed"));
        var bad = Run("config", "--Mount:FileSystem=ntfs");
        Assert.That(bad.ExitCode, Is.EqualTo(1), WindowsBuild.Describe(bad));
        Assert.That(bad.StandardError, Does.Contain("Mount:FileSystem: must be one of auto, winfsp, dokan, fuse, got 'ntfs'"));
    }

    private ToolResult Run(params string[] arguments) => _windows.RunAsync(arguments, _environment).GetAwaiter().GetResult();

    /// <summary>A Windows environment variable as the Windows build sees it.</summary>
    private string Variable(string name)
    {
        if (_windows.Wine is null)
        {
            return Environment.GetEnvironmentVariable(name) ?? "";
        }

        var result = _windows.RunWineProgram("cmd", "/c", "echo", $"%{name}%").EnsureSuccess();
        return result.StandardOutput.Trim();
    }

    private string LinuxPathOf(string windowsPath)
    {
        if (_windows.Wine is null)
        {
            return windowsPath;
        }

        var result = _windows.RunWineProgram("winepath", "-u", windowsPath).EnsureSuccess();
        return result.StandardOutput.Trim();
    }
}
