using NUnit.Framework;
using System.Diagnostics;

namespace Qcow2Mount.TestSupport;

/// <summary>
/// A stand-in for a running VM: qemu-io holding a qcow2 image open for writing, with QEMU's locks, until disposed.
/// <see cref="Hold"/> returns once the locks are taken (qemu-img can no longer open the image without -U).
/// </summary>
public sealed class QemuWriter : IDisposable
{
    private readonly Process _process;

    private QemuWriter(Process process) => _process = process;

    public static QemuWriter Hold(string image)
    {
        var process = Process.Start(new ProcessStartInfo(ExternalTool.RequireTool("qemu-io"))
        {
            // Interactive: it keeps the image open until its standard input closes.
            ArgumentList = { "-f", "qcow2", image },
            RedirectStandardInput = true,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
        })!;
        var writer = new QemuWriter(process);
        try
        {
            var waited = Stopwatch.StartNew();
            while (ExternalTool.Run("qemu-img", ["info", image]).ExitCode == 0)
            {
                if (process.HasExited)
                {
                    Assert.Fail($"qemu-io could not open {image}: {process.StandardError.ReadToEnd().Trim()}");
                }

                Assert.That(waited.Elapsed, Is.LessThan(TimeSpan.FromSeconds(10)), "qemu-io did not take its locks");
                Thread.Sleep(50);
            }

            return writer;
        }
        catch
        {
            writer.Dispose();
            throw;
        }
    }

    public void Dispose()
    {
        if (!_process.HasExited)
        {
            _process.Kill();
        }

        _process.WaitForExit();
        _process.Dispose();
    }
}
