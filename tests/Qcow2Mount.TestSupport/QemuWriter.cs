using NUnit.Framework;
using System.Diagnostics;

namespace Qcow2Mount.TestSupport;

/// <summary>
/// A stand-in for a running VM: qemu-io holding a qcow2 image open for writing, with QEMU's locks, until disposed.
/// <see cref="Hold"/> returns once qemu-io has answered a command, so the image is open and locked.
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
            // One command's answer shows the image is open with its locks. Polling with `qemu-img info` instead
            // would race: while info has the image open, qemu-io cannot take its write lock and gives up.
            string answer = writer.Command("read 0 512");
            if (!answer.Contains("read 512/512 bytes", StringComparison.Ordinal))
            {
                if (!process.WaitForExit(5_000))
                {
                    process.Kill();
                }

                Assert.Fail($"qemu-io could not open {image}: {answer} {process.StandardError.ReadToEnd().Trim()}");
            }

            return writer;
        }
        catch
        {
            writer.Dispose();
            throw;
        }
    }

    /// <summary>
    /// Runs one qemu-io read or write command and returns its output: "read|wrote N/N bytes at offset X", then
    /// the line with the timing, which ends the answer. Empty when qemu-io has exited.
    /// </summary>
    public string Command(string command)
    {
        _process.StandardInput.WriteLine(command);
        var lines = new List<string>();
        var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(10);
        while (true)
        {
            var next = _process.StandardOutput.ReadLineAsync();
            var left = deadline - DateTime.UtcNow;
            Assert.That(left > TimeSpan.Zero && next.Wait(left), Is.True, $"qemu-io did not answer '{command}'");
            if (next.Result is not { } line)
            {
                return string.Join('\n', lines);
            }

            lines.Add(line);
            if (line.Contains(" ops/sec)", StringComparison.Ordinal))
            {
                return string.Join('\n', lines);
            }
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
