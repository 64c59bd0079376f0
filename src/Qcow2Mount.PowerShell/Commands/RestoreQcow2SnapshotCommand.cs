using System.Management.Automation;
using Qcow2Mount.Operations;
using Qcow2Mount.PowerShell.Completion;
using Qcow2Mount.PowerShell.Hosting;

namespace Qcow2Mount.PowerShell.Commands;

/// <summary>
/// Restore-Qcow2Snapshot: reverts the image's current state to an internal snapshot (<c>qemu-img snapshot -a</c>);
/// what was written since is lost.
/// </summary>
[Cmdlet(VerbsData.Restore, "Qcow2Snapshot", SupportsShouldProcess = true, ConfirmImpact = ConfirmImpact.High)]
[OutputType(typeof(Qcow2Snapshot))]
public sealed class RestoreQcow2SnapshotCommand : Qcow2Cmdlet
{
    [Parameter(Mandatory = true, Position = 0, ValueFromPipelineByPropertyName = true)]
    [Alias("PSPath", "FullName", "Path")]
    [ValidateNotNullOrEmpty]
    public string ImagePath { get; set; } = "";

    /// <summary>Name or id.</summary>
    [Parameter(Mandatory = true, Position = 1, ValueFromPipelineByPropertyName = true)]
    [ArgumentCompleter(typeof(SnapshotNameCompleter))]
    [ValidateNotNullOrEmpty]
    public string Name { get; set; } = "";

    [Parameter]
    public SwitchParameter PassThru { get; set; }

    protected override void ProcessRecord()
    {
        ForEachImage([ImagePath], image =>
        {
            if (ShouldProcess(image, $"Revert the image to snapshot '{Name}' (what was written since is lost)"))
            {
                var applied = Run(cancel => ImageOperations.ChangeSnapshotAsync(
                    new SnapshotChangeOptions { Image = image, Change = SnapshotChange.Apply, Name = Name }, cancel));
                if (PassThru)
                {
                    WriteObject(OutputObjects.Snapshot(image, applied.Snapshot));
                }
            }
        });
    }
}
