using Microsoft.Extensions.Logging.Abstractions;
using Qcow2Mount.Control;
using Qcow2Mount.Service.Hosting;
using Qcow2Mount.TestSupport;

namespace Qcow2Mount.Service.Tests;

/// <summary>
/// The control socket serves only its own user, and the CLI talks only to a service of its own user, whatever the
/// socket file's mode and folder; a folder the user chose for the socket keeps its mode.
/// </summary>
[NonParallelizable]
[System.Runtime.Versioning.SupportedOSPlatform("linux")]
internal sealed class EndpointSecurityTests
{
    private const string Python = "/usr/bin/python3";
    private const string Nobody = "65534";

    [Test]
    public void A_socket_in_a_folder_the_user_chose_leaves_that_folder_as_it_was()
    {
        using var dir = new TempDir("sockdir");
        // Like /tmp: world-writable and sticky. chmod 0700 of such a folder would lock every other user out of it.
        const UnixFileMode shared = (UnixFileMode)0x3FF | UnixFileMode.StickyBit;
        File.SetUnixFileMode(dir.Path, shared);
        string socket = Path.Combine(dir.Path, "control.sock");

        using (UnixSocketListener.Bind(socket, NullLogger.Instance))
        {
            Assert.Multiple(() =>
            {
                Assert.That(File.GetUnixFileMode(dir.Path), Is.EqualTo(shared), "the folder's mode");
                Assert.That(File.GetUnixFileMode(socket), Is.EqualTo(UnixSocketListener.SocketMode), "the socket's mode");
            });
        }
    }

    [Test]
    public async Task Another_user_who_reaches_the_socket_is_disconnected_without_an_answer()
    {
        RequireRootAndPython();
        using var dir = new TempDir("sockpeer");
        File.SetUnixFileMode(dir.Path, (UnixFileMode)0x1FF);
        string socket = Path.Combine(dir.Path, "control.sock");
        using var listener = UnixSocketListener.Bind(socket, NullLogger.Instance);
        // Widen the socket as a careless umask or chmod would: only the peer check is left to keep nobody out.
        File.SetUnixFileMode(socket, (UnixFileMode)0x1B6);

        using var accepting = new CancellationTokenSource(TimeSpan.FromSeconds(30));
        var accepted = listener.AcceptAsync(accepting.Token);
        // The service may hang up before the request is even sent (a broken pipe) or after (a reset, or end of
        // stream): either way no byte of an answer comes back.
        var result = await PythonAsNobody(
            "import socket,sys\ns=socket.socket(socket.AF_UNIX)\ns.settimeout(20)\ns.connect(sys.argv[1])\ntry:\n" +
            " s.sendall(b'{\"v\":1,\"op\":\"list\"}\\n')\n print('answer', repr(s.recv(4096)))\n" +
            "except (ConnectionResetError, BrokenPipeError):\n print('answer', repr(b''))",
            socket);

        Assert.That(result.StandardOutput.Trim(), Is.EqualTo("answer b''"), result.StandardError);
        Assert.That(accepted.IsCompleted, Is.False, "the foreign connection was not handed to the service");
        await accepting.CancelAsync();
        Assert.That(async () => await accepted, Throws.InstanceOf<OperationCanceledException>());
    }

    [Test]
    public async Task The_client_refuses_a_socket_another_user_listens_on()
    {
        RequireRootAndPython();
        using var dir = new TempDir("sockfake");
        File.SetUnixFileMode(dir.Path, (UnixFileMode)0x1FF);
        string socket = Path.Combine(dir.Path, "control.sock");
        // Someone else took the socket path first (the /tmp fallback is predictable) and waits for requests.
        using var stop = new CancellationTokenSource(TimeSpan.FromSeconds(60));
        var fake = PythonAsNobody(
            "import os,socket,sys\ns=socket.socket(socket.AF_UNIX)\ns.bind(sys.argv[1])\nos.chmod(sys.argv[1],0o666)\ns.listen()\n" +
            "c,_=s.accept()\nc.settimeout(10)\nprint('got', repr(c.recv(4096)))",
            socket, stop.Token);
        for (int i = 0; i < 100 && !File.Exists(socket); i++)
        {
            await Task.Delay(50);
        }

        var endpoint = new ControlEndpoint { SocketPath = socket };
        var error = Assert.ThrowsAsync<ControlException>(async () => await ControlClient.ConnectAsync(endpoint, TimeSpan.FromSeconds(5)));
        Assert.That(error!.Message, Does.Contain($"runs as user {Nobody}"));
        var sent = await fake;
        Assert.That(sent.StandardOutput.Trim(), Is.EqualTo("got b''"), "nothing was sent to the impostor: " + sent.StandardError);
    }

    /// <summary>Runs a Python script as nobody with the socket path as its argument.</summary>
    private static Task<ToolResult> PythonAsNobody(string script, string socket, CancellationToken cancellationToken = default) =>
        ExternalTool.RunAsync("setpriv", ["--reuid=" + Nobody, "--regid=" + Nobody, "--clear-groups", Python, "-c", script, socket],
            timeout: TimeSpan.FromSeconds(60), cancellationToken: cancellationToken);

    private static void RequireRootAndPython()
    {
        ExternalTool.RequireTool("setpriv");
        if (!File.Exists(Python))
        {
            Assert.Ignore($"{Python} is needed to act as another user (apt-get install python3).");
        }

        if (Environment.UserName != "root")
        {
            Assert.Ignore("Switching to another uid needs root.");
        }
    }
}
