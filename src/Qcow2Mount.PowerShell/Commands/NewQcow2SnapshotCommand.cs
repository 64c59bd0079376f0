using System.Management.Automation;
using Qcow2Mount.Operations;
using Qcow2Mount.PowerShell.Hosting;

namespace Qcow2Mount.PowerShell.Commands;

/// <summary>New-Qcow2Snapshot: takes an internal snapshot of the image's current state (<c>qemu-img snapshot -c</c>).</summary>
[Cmdlet(VerbsCommon.New, "Qcow2Snapshot", SupportsShouldProcess = true, ConfirmImpact = ConfirmImpact.Medium)]
[OutputType(typeof(Qcow2Snapshot))]
public sealed class NewQcow2SnapshotCommand : Qcow2ImagesCmdlet
{
    [Parameter(Mandatory = true, Position = 1)]
    [ValidateNotNullOrEmpty]
    public string Name { get; set; } = "";

    protected override void ProcessRecord()
    {
        foreach (string path in ImagePath)
        {
            string image = ResolvePath(path);
            ForItem(image, () =>
            {
                if (ShouldProcess(image, $"Create snapshot '{Name}'"))
                {
                    var created = Run(cancel => ImageOperations.ChangeSnapshotAsync(
                        new SnapshotChangeOptions { Image = image, Change = SnapshotChange.Create, Name = Name }, cancel));
                    WriteObject(OutputObjects.Snapshot(image, created.Snapshot));
                }
            });
        }
    }
}
