using System.Diagnostics.CodeAnalysis;
using System.Management.Automation;
using Qcow2Mount.Operations;
using Qcow2Mount.PowerShell.Completion;
using Qcow2Mount.PowerShell.Hosting;

namespace Qcow2Mount.PowerShell.Commands;

/// <summary>
/// Remove-Qcow2Snapshot: deletes internal snapshots (<c>qemu-img snapshot -d</c>); takes Get-Qcow2Snapshot's objects
/// from the pipeline.
/// </summary>
[Cmdlet(VerbsCommon.Remove, "Qcow2Snapshot", SupportsShouldProcess = true, ConfirmImpact = ConfirmImpact.High)]
public sealed class RemoveQcow2SnapshotCommand : Qcow2Cmdlet
{
    [Parameter(Mandatory = true, Position = 0, ValueFromPipelineByPropertyName = true)]
    [Alias("PSPath", "FullName", "Path")]
    [ValidateNotNullOrEmpty]
    public string ImagePath { get; set; } = "";

    /// <summary>Names or ids.</summary>
    [Parameter(Mandatory = true, Position = 1, ValueFromPipelineByPropertyName = true)]
    [ArgumentCompleter(typeof(SnapshotNameCompleter))]
    [ValidateNotNullOrEmpty]
    [SuppressMessage("Performance", "CA1819:Properties should not return arrays", Justification = "PowerShell binds a list parameter to an array, as every cmdlet declares one.")]
    public string[] Name { get; set; } = [];

    protected override void ProcessRecord()
    {
        string image = ResolvePath(ImagePath);
        foreach (string name in Name)
        {
            ForItem(image, () =>
            {
                if (ShouldProcess(image, $"Remove snapshot '{name}'"))
                {
                    Run(cancel => ImageOperations.ChangeSnapshotAsync(
                        new SnapshotChangeOptions { Image = image, Change = SnapshotChange.Delete, Name = name }, cancel));
                }
            });
        }
    }
}
