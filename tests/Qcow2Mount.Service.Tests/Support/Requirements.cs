using Qcow2Mount.Fuse;
using Qcow2Mount.TestSupport;

namespace Qcow2Mount.Service.Tests.Support;

/// <summary>Loud ignores when the machine cannot run real mounts: a test that needs FUSE or qemu never passes silently without them.</summary>
internal static class Requirements
{
    public static void FuseAndQemu()
    {
        if (!OperatingSystem.IsLinux())
        {
            Assert.Ignore("FUSE mounts need Linux.");
        }

        if (!File.Exists("/dev/fuse"))
        {
            Assert.Ignore("/dev/fuse does not exist (load the fuse module; in a container, pass the device).");
        }

        ExternalTool.RequireTool("fusermount3");
        if (!new FuseHost().IsAvailable(out string reason))
        {
            Assert.Ignore($"FUSE unavailable: {reason}");
        }

        ExternalTool.RequireTool("qemu-img");
        ExternalTool.RequireTool("qemu-io");
    }
}
