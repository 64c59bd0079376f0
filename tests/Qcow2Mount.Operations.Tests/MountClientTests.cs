using Qcow2Mount.Control;
using Qcow2Mount.Control.Protocol;

namespace Qcow2Mount.Operations.Tests;

/// <summary>The mount client without a service: where it looks, what it would start, and how it says "none running".</summary>
[NonParallelizable] // sets a process environment variable
internal sealed class MountClientTests
{
    private const string SocketVariable = "QCOW2MOUNT_Control__SocketPath";

    private TempDir _dir = null!;
    private string? _previousSocket;

    [SetUp]
    public void SetUp()
    {
        _dir = new TempDir("ops-client");
        _previousSocket = Environment.GetEnvironmentVariable(SocketVariable);
        Environment.SetEnvironmentVariable(SocketVariable, _dir.Combine("control.sock"));
    }

    [TearDown]
    public void TearDown()
    {
        Environment.SetEnvironmentVariable(SocketVariable, _previousSocket);
        _dir.Dispose();
    }

    [Test]
    public void The_endpoint_comes_from_the_service_settings_without_loading_the_rest()
    {
        if (OperatingSystem.IsWindows())
        {
            Assert.Ignore("The endpoint is a named pipe on Windows; this test sets a socket path.");
        }

        // A settings file beside the program that the service would refuse (a bad cache size) does not stop a client.
        File.WriteAllText(_dir.Combine("appsettings.json"), """{ "Qcow2": { "L2CacheBytes": "lots" }, "Mount": { "TimeoutSeconds": 5 } }""");
        var client = new MountClient(new MountClientOptions { ServiceProgram = _dir.Combine("qcow2mount") });

        Assert.That(client.Endpoint, Is.EqualTo(new ControlEndpoint { SocketPath = _dir.Combine("control.sock") }));
    }

    [Test]
    public async Task With_no_service_list_is_empty_status_is_null_stop_is_nothing_and_unmount_says_not_mounted()
    {
        var client = new MountClient(new MountClientOptions { ServiceProgram = _dir.Combine("qcow2mount") });

        var unmount = Assert.ThrowsAsync<OperationException>(() => client.UnmountAsync(new UnmountOptions { Target = _dir.Combine("mnt") }))!;

        Assert.Multiple(async () =>
        {
            Assert.That(await client.ListAsync(), Is.Empty);
            Assert.That(await client.StatusAsync(), Is.Null);
            Assert.That(await client.StopAsync(), Is.Null);
            Assert.That((unmount.Code, unmount.ServiceCode), Is.EqualTo((OperationErrorCode.Service, ErrorCodes.NotMounted)));
        });
    }

    [Test]
    public void A_service_that_cannot_start_is_a_service_error()
    {
        var client = new MountClient(new MountClientOptions { ServiceProgram = _dir.Combine("no-such-program") });

        var error = Assert.ThrowsAsync<OperationException>(() =>
            client.MountAsync(new MountImageOptions { Image = _dir.Combine("disk.qcow2"), MountPoint = _dir.Path }))!;

        Assert.That(error.Code, Is.EqualTo(OperationErrorCode.Service));
    }

    [Test]
    public void The_default_program_is_never_the_host_process_unless_that_is_qcow2mount()
    {
        // Under the test host, this process is not qcow2mount: the default is the one beside the Operations assembly.
        string program = MountClient.DefaultServiceProgram();

        Assert.Multiple(() =>
        {
            Assert.That(Path.GetFileNameWithoutExtension(program), Is.EqualTo("qcow2mount"));
            Assert.That(Path.GetDirectoryName(program), Is.EqualTo(Path.GetDirectoryName(typeof(MountClient).Assembly.Location)));
        });
    }

    [Test]
    public void A_program_given_as_a_dll_is_started_by_the_dotnet_host()
    {
        var launch = ServiceLaunchOptions.ForProgram("/opt/qcow2mount/qcow2mount.dll", new ControlEndpoint { SocketPath = "/run/x.sock" });
        var native = ServiceLaunchOptions.ForProgram("/opt/qcow2mount/qcow2mount", new ControlEndpoint { SocketPath = "/run/x.sock" });

        Assert.Multiple(() =>
        {
            Assert.That(Path.GetFileNameWithoutExtension(launch.FileName), Is.EqualTo("dotnet"));
            Assert.That(launch.Arguments.Take(2), Is.EqualTo(new[] { "/opt/qcow2mount/qcow2mount.dll", "serve" }));
            Assert.That(native.FileName, Is.EqualTo("/opt/qcow2mount/qcow2mount"));
            Assert.That(native.Arguments, Does.Contain("--Control:SocketPath=/run/x.sock"));
        });
    }
}
