using System.Net.Sockets;
using System.Text;
using Microsoft.Extensions.Hosting;
using Qcow2Mount.Control;
using Qcow2Mount.Control.Protocol;
using Qcow2Mount.Mounting;
using Qcow2Mount.Service.Hosting;
using Qcow2Mount.Service.Tests.Support;
using Qcow2Mount.TestSupport;

namespace Qcow2Mount.Service.Tests;

/// <summary>The service as clients see it: its endpoint, bad requests, refused mounts, concurrency, shutdown.</summary>
[NonParallelizable]
[System.Runtime.Versioning.SupportedOSPlatform("linux")]
internal sealed class ServiceProtocolTests
{
    private ServiceSession _service = null!;
    private ControlClient _client = null!;
    private TempDir _images = null!;

    [SetUp]
    public async Task StartService()
    {
        Requirements.FuseAndQemu();
        _images = new TempDir("img");
        _service = await ServiceSession.StartAsync();
        _client = await _service.ConnectAsync();
    }

    [TearDown]
    public async Task StopService()
    {
        _client?.Dispose();
        if (_service is not null)
        {
            await _service.DisposeAsync();
        }

        _images?.Dispose();
    }

    private async Task AssertStillServing()
    {
        using var fresh = await _service.ConnectAsync();
        var status = await fresh.StatusAsync();
        Assert.That(status.ProcessId, Is.EqualTo(Environment.ProcessId));
    }

    [Test]
    public void The_socket_is_0600_in_a_0700_directory()
    {
        string socket = _service.Endpoint.SocketPath!;

        Assert.Multiple(() =>
        {
            Assert.That(File.GetUnixFileMode(socket), Is.EqualTo(UnixFileMode.UserRead | UnixFileMode.UserWrite));
            Assert.That(File.GetUnixFileMode(Path.GetDirectoryName(socket)!), Is.EqualTo(UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute));
        });
    }

    [Test]
    public void Another_user_cannot_connect()
    {
        ExternalTool.RequireTool("setpriv");
        const string python = "/usr/bin/python3";
        if (!File.Exists(python))
        {
            Assert.Ignore("/usr/bin/python3 is needed to connect as another user (apt-get install python3).");
        }

        if (Environment.UserName != "root")
        {
            Assert.Ignore("Switching to another uid needs root.");
        }

        // The temp folders above the socket's own are world-traversable, so only the socket's folder and mode stop nobody.
        var result = ExternalTool.Run("setpriv", ["--reuid=65534", "--regid=65534", "--clear-groups", python, "-c",
            "import socket,sys\ns=socket.socket(socket.AF_UNIX)\ntry:\n s.connect(sys.argv[1]); print('connected')\nexcept PermissionError as e:\n print('refused', e); sys.exit(13)",
            _service.Endpoint.SocketPath!]);

        Assert.That(result.ExitCode, Is.EqualTo(13), result.StandardOutput + result.StandardError);
    }

    [Test]
    public async Task Bad_requests_get_errors_and_the_connection_keeps_serving()
    {
        async Task<ControlError> Send(string line)
        {
            var response = await _client.SendLineAsync(Encoding.UTF8.GetBytes(line));
            Assert.That(response.Ok, Is.False, line.Length > 80 ? line[..80] : line);
            return response.Error!;
        }

        var malformed = await Send("{\"v\":1,\"op\":");
        var notObject = await Send("[1,2]");
        var unknownOp = await Send("{\"v\":1,\"id\":\"a\",\"op\":\"format-c\"}");
        var wrongVersion = await Send("{\"v\":2,\"id\":7,\"op\":\"list\"}");
        var noVersion = await Send("{\"op\":\"list\"}");
        var oversized = await Send("{\"v\":1,\"op\":\"list\",\"pad\":\"" + new string('x', ControlProtocol.MaxRequestBytes) + "\"}");
        var missingImage = await Send("{\"v\":1,\"op\":\"mount\",\"mountPoint\":\"/tmp\"}");
        var wrongType = await Send("{\"v\":1,\"op\":\"mount\",\"image\":5}");

        Assert.Multiple(() =>
        {
            Assert.That(malformed.Code, Is.EqualTo(ErrorCodes.MalformedRequest));
            Assert.That(notObject.Code, Is.EqualTo(ErrorCodes.MalformedRequest));
            Assert.That(unknownOp.Code, Is.EqualTo(ErrorCodes.UnknownOperation));
            Assert.That(unknownOp.Message, Does.Contain("format-c"));
            Assert.That(wrongVersion.Code, Is.EqualTo(ErrorCodes.UnsupportedVersion));
            Assert.That(noVersion.Code, Is.EqualTo(ErrorCodes.UnsupportedVersion));
            Assert.That(oversized.Code, Is.EqualTo(ErrorCodes.RequestTooLarge));
            Assert.That(missingImage.Code, Is.EqualTo(ErrorCodes.InvalidArgument));
            Assert.That(wrongType.Code, Is.EqualTo(ErrorCodes.MalformedRequest));
            foreach (var error in new[] { malformed, unknownOp, wrongVersion, oversized, missingImage })
            {
                Assert.That(error.Message, Does.Not.Contain('\n'), "one-line messages");
            }
        });

        // The same connection still works, and ids are echoed as sent.
        var list = await _client.SendAsync(new ControlRequest { Op = ControlOperations.List, Id = System.Text.Json.JsonDocument.Parse("\"x-1\"").RootElement });
        Assert.That(list.Ok, Is.True);
        Assert.That(list.Id!.Value.GetString(), Is.EqualTo("x-1"));
        await AssertStillServing();
    }

    [Test]
    public async Task A_client_that_disconnects_mid_line_does_not_disturb_the_service()
    {
        using (var socket = new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified))
        {
            await socket.ConnectAsync(new UnixDomainSocketEndPoint(_service.Endpoint.SocketPath!));
            await socket.SendAsync("{\"v\":1,\"op\":\"li"u8.ToArray());
        }

        await AssertStillServing();
    }

    [Test]
    public async Task Refused_mounts_say_why_and_the_service_stays_up()
    {
        string notQcow2 = _images.Combine("notes.txt");
        await File.WriteAllTextAsync(notQcow2, new string('n', 4096));
        string orphan = _images.Combine("orphan.qcow2");
        Images.Qemu("qemu-img", "create", "-u", "-f", "qcow2", "-b", _images.Combine("gone.qcow2"), "-F", "qcow2", orphan, "8M");
        string good = Images.Make("plain", _images);
        string mountDir = _service.NewMountDir();
        string aFile = _images.Combine("a-file");
        await File.WriteAllTextAsync(aFile, "x");

        async Task<ControlException> Refused(string image, string mountPoint, string? mode = null) =>
            await Task.FromResult(Assert.ThrowsAsync<ControlException>(() => _client.MountAsync(new ControlMountRequest { Image = image, MountPoint = mountPoint, Mode = mode }))!);

        var notAnImage = await Refused(notQcow2, mountDir);
        var missingBacking = await Refused(orphan, mountDir);
        var missingImage = await Refused(_images.Combine("nothing.qcow2"), mountDir);
        var missingMountPoint = await Refused(good, _images.Combine("no-such-dir"));
        var fileMountPoint = await Refused(good, aFile);
        await _client.MountAsync(new ControlMountRequest { Image = good, MountPoint = mountDir, Mode = ControlMountModes.Writable });
        var busyMountPoint = await Refused(Images.Make("zlib", _images), mountDir);
        var secondWriter = await Refused(good, _service.NewMountDir(), ControlMountModes.Writable);
        var readerOfWritten = await Refused(good, _service.NewMountDir());
        var badMode = await Refused(good, _service.NewMountDir(), "sideways");

        Assert.Multiple(() =>
        {
            Assert.That(notAnImage.Code, Is.EqualTo(ErrorCodes.NotQcow2));
            Assert.That(notAnImage.Message, Does.Contain("not a qcow2 image"));
            Assert.That(missingBacking.Code, Is.EqualTo(ErrorCodes.MissingFile));
            Assert.That(missingBacking.Message, Does.Contain("gone.qcow2"));
            Assert.That(missingImage.Code, Is.EqualTo(ErrorCodes.MissingFile));
            Assert.That(missingMountPoint.Code, Is.EqualTo(ErrorCodes.NotFound));
            Assert.That(missingMountPoint.Message, Does.Contain("Mount point"));
            Assert.That(fileMountPoint.Code, Is.EqualTo(ErrorCodes.NotDirectory));
            Assert.That(busyMountPoint.Code, Is.EqualTo(ErrorCodes.Busy));
            Assert.That(secondWriter.Code, Is.EqualTo(ErrorCodes.Locked));
            Assert.That(secondWriter.Message, Does.Contain("already mounted writable at"));
            Assert.That(readerOfWritten.Code, Is.EqualTo(ErrorCodes.Locked));
            Assert.That(badMode.Code, Is.EqualTo(ErrorCodes.InvalidArgument));
        });
        Assert.That((await _client.ListAsync()).Select(m => m.MountPoint), Is.EqualTo(new[] { mountDir }));
        await AssertStillServing();
    }

    /// <summary>
    /// A mount of an image a running VM writes (here qemu-io holding it open for writing) is refused, as qemu-img
    /// refuses it without -U, unless it forces sharing; and while an image is mounted, QEMU cannot start writing it.
    /// </summary>
    [Test]
    public async Task A_read_only_mount_and_QEMU_writers_keep_apart_unless_it_forces_sharing()
    {
        string image = Images.Make("plain", _images);
        string dir = _service.NewMountDir();
        using (QemuWriter.Hold(image))
        {
            var refused = Assert.ThrowsAsync<ControlException>(() => _client.MountAsync(new ControlMountRequest { Image = image, MountPoint = dir }))!;
            var writableForced = Assert.ThrowsAsync<ControlException>(() =>
                _client.MountAsync(new ControlMountRequest { Image = image, MountPoint = dir, Mode = ControlMountModes.Writable, ForceShare = true }))!;
            var forced = await _client.MountAsync(new ControlMountRequest { Image = image, MountPoint = dir, ForceShare = true });
            Assert.Multiple(() =>
            {
                Assert.That(refused.Code, Is.EqualTo(ErrorCodes.Locked));
                Assert.That(refused.Message, Does.Contain("in use by another program").And.Contain("force-share"));
                Assert.That(writableForced.Code, Is.EqualTo(ErrorCodes.InvalidArgument));
                Assert.That(forced.ForceShare, Is.True);
            });
            await _client.UnmountAsync(dir);
        }

        await _client.MountAsync(new ControlMountRequest { Image = image, MountPoint = dir });
        var write = ExternalTool.Run("qemu-io", ["-f", "qcow2", "-c", "write 0 4k", image]);
        await _client.UnmountAsync(dir);
        Assert.That(write.ExitCode, Is.Not.Zero, "QEMU wrote to a mounted image");
        ExternalTool.Run("qemu-io", ["-f", "qcow2", "-c", "write 0 4k", image]).EnsureSuccess();
        await AssertStillServing();
    }

    /// <summary>Under a read-only mount, this tool's own writers (snapshot, resize, check --repair) leave the image alone.</summary>
    [Test]
    public async Task An_image_under_a_read_only_mount_is_refused_to_our_writers_until_unmounted()
    {
        string image = Images.Make("plain", _images);
        string dir = _service.NewMountDir();
        await _client.MountAsync(new ControlMountRequest { Image = image, MountPoint = dir });

        var refused = Assert.Throws<Qcow2Mount.Qcow2.Qcow2Exception>(() =>
            Qcow2Mount.Qcow2.Qcow2Image.Open(image, new Qcow2Mount.Qcow2.Qcow2OpenOptions { Writable = true }).Dispose())!;
        Assert.That(refused.Code, Is.EqualTo(Qcow2Mount.Qcow2.Qcow2ErrorCode.Locked));

        await _client.UnmountAsync(dir);
        Qcow2Mount.Qcow2.Qcow2Image.Open(image, new Qcow2Mount.Qcow2.Qcow2OpenOptions { Writable = true }).Dispose();
    }

    /// <summary>A mount whose server died (kill -9) leaves a path that stat fails on: say so, and how to clear it.</summary>
    [Test]
    public async Task A_dead_mount_point_is_named_as_such_not_as_missing()
    {
        ExternalTool.RequireTool("qcowmount");
        string image = Images.Make("plain", _images);
        string dead = _service.NewMountDir("dead");
        // qcowmount daemonizes; its server is then killed the hard way, as a crash would.
        ExternalTool.Run("qcowmount", [image, dead]).EnsureSuccess();
        try
        {
            for (int i = 0; i < 100 && !ServiceSession.IsMountPoint(dead); i++)
            {
                await Task.Delay(50);
            }

            Assert.That(ServiceSession.IsMountPoint(dead), Is.True, "qcowmount mounted");
            ExternalTool.Run("pkill", ["-9", "-f", "qcowmount " + image]);
            for (int i = 0; i < 100 && Directory.Exists(dead); i++)
            {
                await Task.Delay(50);
            }

            var refused = Assert.ThrowsAsync<ControlException>(() => _client.MountAsync(new ControlMountRequest { Image = image, MountPoint = dead }))!;
            Assert.Multiple(() =>
            {
                Assert.That(refused.Code, Is.EqualTo(ErrorCodes.Busy));
                Assert.That(refused.Message, Does.Contain("fusermount3 -u"));
                Assert.That(refused.Message, Does.Not.Contain("does not exist"));
            });
        }
        finally
        {
            ExternalTool.Run("fusermount3", ["-u", "-z", dead]);
        }

        await AssertStillServing();
    }

    [Test]
    public async Task A_mount_point_mounted_by_someone_else_is_busy()
    {
        string other = _service.NewMountDir("other");
        string image = Images.Make("plain", _images);
        // A mount this service does not know: the engine's own image, mounted by a second, independent service.
        await using var second = await ServiceSession.StartAsync();
        using var secondClient = await second.ConnectAsync();
        await secondClient.MountAsync(new ControlMountRequest { Image = image, MountPoint = other });
        try
        {
            var busy = Assert.ThrowsAsync<ControlException>(() => _client.MountAsync(new ControlMountRequest { Image = Images.Make("zstd", _images), MountPoint = other }));
            Assert.That(busy!.Code, Is.EqualTo(ErrorCodes.Busy));
            Assert.That(busy.Message, Does.Contain("already a mount point"));
        }
        finally
        {
            await secondClient.UnmountAsync(other);
        }
    }

    [Test]
    public async Task The_engine_writer_lock_refuses_a_second_writer_in_another_service()
    {
        string image = Images.Make("plain", _images);
        await _client.MountAsync(new ControlMountRequest { Image = image, MountPoint = _service.NewMountDir(), Mode = ControlMountModes.Writable });
        await using var second = await ServiceSession.StartAsync();
        using var secondClient = await second.ConnectAsync();

        var locked = Assert.ThrowsAsync<ControlException>(() => secondClient.MountAsync(new ControlMountRequest { Image = image, MountPoint = second.NewMountDir(), Mode = ControlMountModes.Writable }));

        Assert.That(locked!.Code, Is.EqualTo(ErrorCodes.Locked));
        Assert.That(locked.Message, Does.Contain("opened for writing by another process"));
    }

    [Test]
    public async Task Two_clients_mount_and_unmount_concurrently()
    {
        string[] images = [Images.Make("plain", _images), Images.Make("zlib", _images), Images.Make("zstd", _images), Images.Make("extended-l2", _images)];
        string[] dirs = [.. images.Select(_ => _service.NewMountDir())];
        using var other = await _service.ConnectAsync();
        ControlClient[] clients = [_client, other];

        async Task Cycle(int i)
        {
            var client = clients[i % 2];
            var mount = await client.MountAsync(new ControlMountRequest { Image = images[i], MountPoint = dirs[i], Mode = i % 2 == 0 ? ControlMountModes.ReadOnly : ControlMountModes.Writable });
            Assert.That(File.Exists(Path.Combine(mount.MountPoint, Volume.DiskFileName)), Is.True);
        }

        await Task.WhenAll(Enumerable.Range(0, images.Length).Select(i => Task.Run(() => Cycle(i))));
        Assert.That((await _client.ListAsync()).Select(m => m.MountPoint), Is.EquivalentTo(dirs));
        await Task.WhenAll(Enumerable.Range(0, images.Length).Select(i => Task.Run(() => clients[(i + 1) % 2].UnmountAsync(dirs[i]))));

        Assert.That(await _client.ListAsync(), Is.Empty);
        Assert.That(dirs.Where(ServiceSession.IsMountPoint), Is.Empty);
    }

    [Test]
    public async Task Unmounting_what_is_not_mounted_is_an_error()
    {
        var error = Assert.ThrowsAsync<ControlException>(() => _client.UnmountAsync(_service.NewMountDir()));

        Assert.That(error!.Code, Is.EqualTo(ErrorCodes.NotMounted));
        await AssertStillServing();
    }

    [Test]
    public async Task Shutdown_unmounts_everything_and_removes_temporary_overlays()
    {
        string image = Images.Make("plain", _images);
        string writable = Images.Make("zlib", _images);
        var overlay = await _client.MountAsync(new ControlMountRequest { Image = image, MountPoint = _service.NewMountDir(), Mode = ControlMountModes.Overlay });
        var written = await _client.MountAsync(new ControlMountRequest { Image = writable, MountPoint = _service.NewMountDir(), Mode = ControlMountModes.Writable });
        using (var disk = File.OpenHandle(Path.Combine(written.MountPoint, Volume.DiskFileName), FileMode.Open, FileAccess.ReadWrite))
        {
            RandomAccess.Write(disk, new byte[] { 9, 9, 9 }, 12345);
        }

        await _client.ShutdownAsync();
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(30));
        await _service.Host.WaitForShutdownAsync(timeout.Token);

        Assert.Multiple(() =>
        {
            Assert.That(ServiceSession.IsMountPoint(overlay.MountPoint), Is.False);
            Assert.That(ServiceSession.IsMountPoint(written.MountPoint), Is.False);
            Assert.That(File.Exists(overlay.Overlay), Is.False);
            Assert.That(Images.IsDirty(writable), Is.False);
            Assert.That(File.Exists(_service.Endpoint.SocketPath), Is.False, "the socket is removed");
        });
        Images.AssertCheckClean(writable);
    }

    /// <summary>
    /// What replacing an outdated service relies on: a shutdown "if idle" never takes mounts down with it, and the
    /// service that refused it goes on serving them.
    /// </summary>
    [Test]
    public async Task A_shutdown_if_idle_is_refused_while_an_image_is_mounted()
    {
        var mount = await _client.MountAsync(new ControlMountRequest { Image = Images.Make("plain", _images), MountPoint = _service.NewMountDir() });

        var refused = Assert.ThrowsAsync<ControlException>(() => _client.ShutdownAsync(ifIdle: true))!;

        Assert.Multiple(() =>
        {
            Assert.That(refused.Code, Is.EqualTo(ErrorCodes.Busy));
            Assert.That(refused.Message, Does.Contain(mount.MountPoint));
            Assert.That(ServiceSession.IsMountPoint(mount.MountPoint), Is.True, "still mounted");
        });
        await AssertStillServing();
        // Still taking mounts too: the refusal left the mount table open.
        await _client.MountAsync(new ControlMountRequest { Image = Images.Make("zlib", _images), MountPoint = _service.NewMountDir() });
        Assert.That(await _client.ListAsync(), Has.Count.EqualTo(2));
    }

    [Test]
    public async Task A_shutdown_if_idle_stops_a_service_without_mounts()
    {
        string dir = _service.NewMountDir();
        await _client.MountAsync(new ControlMountRequest { Image = Images.Make("plain", _images), MountPoint = dir });
        await _client.UnmountAsync(dir);

        await _client.ShutdownAsync(ifIdle: true);
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(30));
        await _service.Host.WaitForShutdownAsync(timeout.Token);

        Assert.That(File.Exists(_service.Endpoint.SocketPath), Is.False, "the socket is removed");
    }

    [Test]
    public async Task A_second_service_on_the_same_socket_refuses_to_start()
    {
        using var second = ServiceHost.Build(_service.Settings, new Fuse.FuseHost(), handleSignals: false);

        var error = Assert.ThrowsAsync(Is.InstanceOf<Exception>(), () => second.StartAsync());

        Assert.That(Flatten(error!).OfType<ServiceStartException>().Single().Message, Does.Contain("already running"));
        await AssertStillServing();
    }

    /// <summary>qcow2mount serve exits with the CLI's codes: 13 (service error) when taken, 1 for bad settings.</summary>
    [Test]
    public async Task Serve_exits_13_when_the_socket_is_taken_and_1_for_bad_settings()
    {
        string socket = "--Control:SocketPath=" + _service.Endpoint.SocketPath;
        int taken = await ServiceHost.RunAsync([socket], new Fuse.FuseHost());
        int invalid = await ServiceHost.RunAsync([socket, "--Qcow2:L2CacheBytes=abc"], new Fuse.FuseHost());

        Assert.That((taken, invalid), Is.EqualTo((13, 1)));
        await AssertStillServing();
    }

    [Test]
    public async Task A_stale_socket_is_removed_and_replaced()
    {
        var settings = ServiceSession.SettingsIn(_images);
        string socketPath = settings.Control.SocketPath!;
        Directory.CreateDirectory(Path.GetDirectoryName(socketPath)!);
        // .NET unlinks the sockets it binds when they are disposed; a process that dies (here: python exiting) does not.
        ExternalTool.Run(ExternalTool.RequireTool("python3"), ["-c", "import socket,sys; socket.socket(socket.AF_UNIX).bind(sys.argv[1])", socketPath]).EnsureSuccess();

        Assert.That(File.Exists(socketPath), Is.True, "a socket file nobody listens on");
        await using var service = await ServiceSession.StartAsync(settings);
        using var client = await service.ConnectAsync();

        Assert.That((await client.StatusAsync()).Endpoint, Is.EqualTo(socketPath));
    }

    private static IEnumerable<Exception> Flatten(Exception e) =>
        e is AggregateException aggregate ? aggregate.InnerExceptions.SelectMany(Flatten) : [e];
}
