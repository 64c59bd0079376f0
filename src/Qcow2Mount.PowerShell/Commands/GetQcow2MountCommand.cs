using System.Diagnostics.CodeAnalysis;
using System.Management.Automation;
using Qcow2Mount.Operations;
using Qcow2Mount.PowerShell.Hosting;

namespace Qcow2Mount.PowerShell.Commands;

/// <summary>Get-Qcow2Mount: the mounts of the running mount service (none when no service runs).</summary>
[Cmdlet(VerbsCommon.Get, "Qcow2Mount")]
[OutputType(typeof(Qcow2MountedImage))]
public sealed class GetQcow2MountCommand : Qcow2Cmdlet
{
    /// <summary>Only the mounts of these images.</summary>
    [Parameter(Position = 0, ValueFromPipeline = true, ValueFromPipelineByPropertyName = true)]
    [Alias("PSPath", "FullName", "Path")]
    [ValidateNotNullOrEmpty]
    [SuppressMessage("Performance", "CA1819:Properties should not return arrays", Justification = "PowerShell binds a list parameter to an array, as every cmdlet declares one.")]
    public string[]? ImagePath { get; set; }

    protected override void ProcessRecord()
    {
        var images = ImagePath?.Select(ResolvePath).ToHashSet(OperatingSystem.IsLinux() ? StringComparer.Ordinal : StringComparer.OrdinalIgnoreCase);
        ForItem(null, () =>
        {
            var client = new MountClient(new MountClientOptions { ServiceProgram = ServiceExecutable.Find(out _) });
            foreach (var mount in Run(client.ListAsync))
            {
                if (images is null || images.Contains(mount.Image))
                {
                    WriteObject(OutputObjects.Mount(mount));
                }
            }
        });
    }
}
