using System.Text.Json;
using NUnit.Framework;
using Qcow2Mount.TestSupport;

namespace Qcow2Mount.Qcow2.Tests;

/// <summary>
/// qemu-img / qemu-io (the oracle) for the engine's tests, run through the one runner of every test project,
/// <see cref="Qcow2Mount.TestSupport.ExternalTool"/>: its timeout, and its skip rule (a missing tool ignores the test).
/// </summary>
internal static class QemuTools
{
    public static string QemuImg => ExternalTool.RequireTool("qemu-img");
    public static string QemuIo => ExternalTool.RequireTool("qemu-io");

    public static (int ExitCode, string Stdout, string Stderr) Run(string tool, params string[] args) => RunIn(null, tool, args);

    /// <summary>Runs a tool in <paramref name="workingDirectory"/> (relative data file names resolve against it).</summary>
    public static (int ExitCode, string Stdout, string Stderr) RunIn(string? workingDirectory, string tool, params string[] args)
    {
        var result = ExternalTool.Run(tool, args, workingDirectory: workingDirectory);
        return (result.ExitCode, result.StandardOutput, result.StandardError);
    }

    /// <summary>Runs a tool and fails the test unless it exits 0.</summary>
    public static string Ok(string tool, params string[] args)
    {
        var (code, stdout, stderr) = Run(tool, args);
        Assert.That(code, Is.Zero, $"{Path.GetFileName(tool)} {string.Join(' ', args)} failed: {stderr}{stdout}");
        return stdout;
    }

    public static void QemuIoWrite(string image, params string[] commands)
    {
        var args = new List<string> { "-f", "qcow2" };
        foreach (string c in commands)
        {
            args.Add("-c");
            args.Add(c);
        }

        args.Add(image);
        var (code, output, stderr) = RunIn(Path.GetDirectoryName(image), QemuIo, [.. args]);
        Assert.That(code, Is.Zero, $"qemu-io failed: {stderr}{output}");
        Assert.That(output, Does.Not.Contain("failed").IgnoreCase, output);
    }

    /// <summary>qemu-img check --output=json: the exit code and the counters (absent ones are 0).</summary>
    public static QemuCheck Check(string image)
    {
        // qemu 7.2 resolves a relative data file name against the working directory: run next to the image.
        var (code, stdout, stderr) = RunIn(Path.GetDirectoryName(image), QemuImg, "check", "--output=json", "-f", "qcow2", image);
        if (!stdout.StartsWith('{'))
        {
            // qemu-img could not open the image at all: that is its exit code 1.
            Assert.That(code, Is.EqualTo(1), $"qemu-img check gave no JSON (exit {code}): {stderr}");
            return new QemuCheck(code, 0, 0, 1, 0, 0, 0, 0, 0, stderr);
        }

        using var json = JsonDocument.Parse(stdout);
        long Get(string name) => json.RootElement.TryGetProperty(name, out var v) ? v.GetInt64() : 0;
        return new QemuCheck(code, (int)Get("corruptions"), (int)Get("leaks"), (int)Get("check-errors"), Get("allocated-clusters"),
            Get("total-clusters"), Get("fragmented-clusters"), Get("compressed-clusters"), Get("image-end-offset"), stderr);
    }

    public static JsonElement Info(string image)
    {
        var (code, stdout, stderr) = RunIn(Path.GetDirectoryName(image), QemuImg, "info", "--output=json", image);
        Assert.That(code, Is.Zero, stderr);
        using var json = JsonDocument.Parse(stdout);
        return json.RootElement.Clone();
    }

    /// <summary>The guest view as raw bytes (qemu-img convert -O raw).</summary>
    public static byte[] ReadGuest(string image, string dir)
    {
        string raw = Path.Combine(dir, Guid.NewGuid().ToString("N") + ".raw");
        var (code, stdout, stderr) = RunIn(Path.GetDirectoryName(image), QemuImg, "convert", "-f", "qcow2", "-O", "raw", image, raw);
        Assert.That(code, Is.Zero, stderr + stdout);
        var bytes = File.ReadAllBytes(raw);
        File.Delete(raw);
        return bytes;
    }
}

internal sealed record QemuCheck(int ExitCode, int Corruptions, int Leaks, int CheckErrors, long AllocatedClusters, long TotalClusters,
    long FragmentedClusters, long CompressedClusters, long ImageEndOffset, string Stderr);
