using NUnit.Framework;

namespace Qcow2Mount.TestSupport;

/// <summary>
/// qemu-img and qemu-io, the reference the tests compare against, run through <see cref="ExternalTool"/> (its
/// timeout, its skip rule). Each helper fails the test when the tool exits non-zero.
/// </summary>
public static class Qemu
{
    /// <summary>Ignores the calling test unless both qemu-img and qemu-io are installed.</summary>
    public static void RequireInstalled()
    {
        ExternalTool.RequireTool("qemu-img");
        ExternalTool.RequireTool("qemu-io");
    }

    /// <summary>Runs qemu-img in the current directory; returns its standard output.</summary>
    public static string Img(params string[] args) => Ok("qemu-img", null, args);

    /// <summary>Runs qemu-img in <paramref name="workingDirectory"/> (relative names resolve there); returns its standard output.</summary>
    public static string ImgIn(string? workingDirectory, params string[] args) => Ok("qemu-img", workingDirectory, args);

    /// <summary>Runs qemu-io with one <c>-c</c> per command on <paramref name="image"/>; returns its standard output.</summary>
    public static string Io(string? workingDirectory, string image, params string[] commands) =>
        Ok("qemu-io", workingDirectory, [.. commands.SelectMany(c => new[] { "-c", c }), image]);

    private static string Ok(string tool, string? workingDirectory, string[] args)
    {
        var result = ExternalTool.Run(tool, args, workingDirectory: workingDirectory);
        if (!result.Succeeded)
        {
            Assert.Fail($"`{result.CommandLine}` exited with {result.ExitCode}: {result.StandardError}{result.StandardOutput}");
        }

        return result.StandardOutput;
    }
}
