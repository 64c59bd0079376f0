using System.Collections.Concurrent;
using Microsoft.Extensions.Logging.Abstractions;
using Qcow2Mount.Service.Hosting;
using Qcow2Mount.TestSupport;

namespace Qcow2Mount.Service.Tests;

/// <summary>
/// Several services starting at once on one socket (clients that replaced an outdated service together, or found a
/// dead one's socket): exactly one listens, the others refuse to start. Without turns, one would take another's new
/// socket, bound but not listening yet, for a stale one and replace it, leaving that service running unreachable.
/// </summary>
[NonParallelizable]
[System.Runtime.Versioning.SupportedOSPlatform("linux")]
internal sealed class SocketTakeoverTests
{
    [Test]
    public void Services_starting_at_once_over_a_stale_socket_leave_exactly_one_listening()
    {
        const int Services = 8;
        using var dir = new TempDir("takeover");
        var rounds = new List<int>();
        for (int round = 0; round < 50; round++)
        {
            string path = dir.Combine($"control-{round}.sock");
            // What a killed service leaves behind: a socket path nothing answers on.
            File.WriteAllText(path, "stale");
            var listeners = new ConcurrentBag<UnixSocketListener>();
            using (var start = new Barrier(Services))
            {
                var threads = Enumerable.Range(0, Services).Select(_ => new Thread(() =>
                {
                    start.SignalAndWait();
                    try
                    {
                        listeners.Add(UnixSocketListener.Bind(path, NullLogger.Instance));
                    }
                    catch (ServiceStartException)
                    {
                        // Another one is listening: what all but one should get.
                    }
                })).ToList();
                threads.ForEach(t => t.Start());
                threads.ForEach(t => t.Join());
            }

            rounds.Add(listeners.Count);
            foreach (var listener in listeners)
            {
                listener.Dispose();
            }
        }

        Assert.That(rounds, Is.All.EqualTo(1), "services listening in each round");
    }

    /// <summary>Taking turns leaves nothing behind: a folder the user chose for the socket is as it was.</summary>
    [Test]
    public void A_stopped_service_leaves_its_socket_folder_as_it_found_it()
    {
        using var dir = new TempDir("takeover");
        File.WriteAllText(dir.Combine("mine.txt"), "the user's");

        UnixSocketListener.Bind(dir.Combine("control.sock"), NullLogger.Instance).Dispose();
        using (UnixSocketListener.Bind(dir.Combine("control.sock"), NullLogger.Instance))
        {
            Assert.That(File.Exists(dir.Combine("control.sock")), Is.True, "a second service after the first stopped listens");
        }

        Assert.That(Directory.GetFileSystemEntries(dir.Path).Select(Path.GetFileName), Is.EqualTo(new[] { "mine.txt" }));
    }
}
