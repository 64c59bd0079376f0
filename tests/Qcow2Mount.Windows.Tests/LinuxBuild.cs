namespace Qcow2Mount.Windows.Tests;

/// <summary>
/// The build the Windows one is compared with: the published native binary when <c>QCOW2MOUNT_PUBLISHED</c> names it
/// (as in <c>bash .ci/run</c>), else the CLI built beside these tests, run with <c>dotnet</c>.
/// </summary>
internal static class LinuxBuild
{
    public static ToolResult Run(params string[] arguments)
    {
        if (Environment.GetEnvironmentVariable("QCOW2MOUNT_PUBLISHED") is { Length: > 0 } published && File.Exists(published))
        {
            return ExternalTool.Run(published, arguments, WindowsBuild.Timeout);
        }

        string assembly = Path.Combine(AppContext.BaseDirectory, "qcow2mount.dll");
        return ExternalTool.Run("dotnet", [assembly, .. arguments], WindowsBuild.Timeout);
    }
}
