using System.Diagnostics;

namespace Qcow2Mount.Cli.Tests;

/// <summary>qemu-img and qemu-io, the reference these tests compare against; tests are ignored (loudly) without them.</summary>
internal static class QemuImg
{
    private static readonly Lazy<string?> QemuImgPath = new(() => Find("qemu-img"));
    private static readonly Lazy<string?> QemuIoPath = new(() => Find("qemu-io"));

    public static void RequireInstalled()
    {
        if (QemuImgPath.Value is null || QemuIoPath.Value is null)
        {
            Assert.Ignore("qemu-img not found: apt-get install qemu-utils");
        }
    }

    /// <summary>Runs qemu-img; fails the test on a non-zero exit. Returns stdout.</summary>
    public static string Img(string workingDirectory, params string[] args) => Run(QemuImgPath.Value!, workingDirectory, args);

    public static string Io(string workingDirectory, string image, params string[] commands)
    {
        var args = new List<string>();
        foreach (string command in commands)
        {
            args.Add("-c");
            args.Add(command);
        }

        args.Add(image);
        return Run(QemuIoPath.Value!, workingDirectory, [.. args]);
    }

    private static string Run(string tool, string workingDirectory, string[] args)
    {
        var start = new ProcessStartInfo(tool)
        {
            WorkingDirectory = workingDirectory,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
        };
        foreach (string arg in args)
        {
            start.ArgumentList.Add(arg);
        }

        using var process = Process.Start(start)!;
        var stderr = process.StandardError.ReadToEndAsync();
        string stdout = process.StandardOutput.ReadToEnd();
        process.WaitForExit();
        if (process.ExitCode != 0)
        {
            Assert.Fail($"{Path.GetFileName(tool)} {string.Join(' ', args)} exited with {process.ExitCode}: {stderr.Result}");
        }

        return stdout;
    }

    private static string? Find(string name) =>
        (Environment.GetEnvironmentVariable("PATH") ?? "")
            .Split(Path.PathSeparator, StringSplitOptions.RemoveEmptyEntries)
            .Select(directory => Path.Combine(directory, name))
            .FirstOrDefault(File.Exists);
}
