using Qcow2Mount.Control;
using Qcow2Mount.Service.Configuration;
using Qcow2Mount.Service.Hosting;

namespace Qcow2Mount.Service.Tests;

/// <summary><c>Mount:FileSystem</c> (the driver to mount with) and where a service writes its log.</summary>
internal sealed class FileSystemSettingTests
{
    private static ServiceSettings Load(params string[] args) =>
        Qcow2MountConfiguration.Load(Qcow2MountConfiguration.Build(args, new ConfigurationSources
        {
            BaseDirectory = Path.Combine(Path.GetTempPath(), "qcow2mount-no-settings-here"),
            UserSettingsFile = Path.Combine(Path.GetTempPath(), "qcow2mount-no-settings-here", "settings.json"),
            IncludeEnvironment = false,
        }));

    [Test]
    public void The_file_system_defaults_to_auto_and_takes_each_driver_in_any_case()
    {
        Assert.That(Load().Mount.FileSystem, Is.EqualTo("auto"));
        Assert.That(Load("--Mount:FileSystem=WinFsp").Mount.FileSystem, Is.EqualTo("winfsp"));
        Assert.That(Load("--file-system", "dokan").Mount.FileSystem, Is.EqualTo("dokan"));
        Assert.That(Load("--Mount:FileSystem=fuse").Mount.FileSystem, Is.EqualTo("fuse"));
    }

    [Test]
    public void An_unknown_file_system_is_refused_with_the_known_ones()
    {
        var ex = Assert.Throws<ConfigurationValidationException>(() => Load("--Mount:FileSystem=ntfs"));
        Assert.That(ex!.Errors, Is.EqualTo(new[] { "Mount:FileSystem: must be one of auto, winfsp, dokan, fuse, got 'ntfs'" }));
    }

    [Test]
    public void The_effective_settings_list_the_file_system_with_its_default()
    {
        var root = Qcow2MountConfiguration.Build([], new ConfigurationSources
        {
            BaseDirectory = Path.Combine(Path.GetTempPath(), "qcow2mount-no-settings-here"),
            UserSettingsFile = Path.Combine(Path.GetTempPath(), "qcow2mount-no-settings-here", "settings.json"),
            IncludeEnvironment = false,
        });
        Assert.That(Qcow2MountConfiguration.DescribeEffectiveSettings(root),
            Does.Contain(new EffectiveSetting("Mount:FileSystem", "auto", Qcow2MountConfiguration.DefaultsSource)));
    }

    [Test]
    public void A_foreground_service_logs_to_its_console_only_unless_a_file_is_named()
    {
        Assert.That(ServiceHost.LogFile(new ServiceSettings()), Is.Null);
        string named = Path.Combine(Path.GetTempPath(), "named.log");
        Assert.That(ServiceHost.LogFile(new ServiceSettings { Logging = new LoggingSettings { LogFile = named } }), Is.EqualTo(named));
    }

    [Test]
    public void A_detached_service_logs_beside_its_socket_or_under_LOCALAPPDATA_on_a_pipe()
    {
        var socket = new ServiceSettings { Detached = true, Control = new ControlSettings { SocketPath = "/run/user/1000/qcow2mount/control.sock" } };
        if (!OperatingSystem.IsWindows())
        {
            Assert.That(ServiceHost.LogFile(socket), Is.EqualTo("/run/user/1000/qcow2mount/service.log"));
        }

        // A pipe endpoint is what Windows has; the rule is the same wherever it runs.
        var pipeSettings = new ServiceSettings { Detached = true };
        if (OperatingSystem.IsWindows())
        {
            string local = Environment.GetFolderPath(Environment.SpecialFolder.LocalApplicationData);
            Assert.That(ServiceHost.LogFile(pipeSettings), Is.EqualTo(Path.Combine(local, "Qcow2Mount", "service.log")));
        }
        else
        {
            Assert.That(ControlEndpoint.Default.PipeName, Is.Null, "a socket here, so the pipe rule is shown under Wine (WindowsServiceTests)");
        }
    }
}
