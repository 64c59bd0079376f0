using System.Management.Automation;
using Qcow2Mount.Operations;
using Qcow2Mount.PowerShell.Completion;
using Qcow2Mount.PowerShell.Hosting;

namespace Qcow2Mount.PowerShell.Commands;

/// <summary>Get-Qcow2Image: what <c>qemu-img info</c> shows, as typed properties; -BackingChain adds each backing file.</summary>
[Cmdlet(VerbsCommon.Get, "Qcow2Image")]
[OutputType(typeof(Qcow2ImageInfo))]
public sealed class GetQcow2ImageCommand : Qcow2ImagesCmdlet
{
    [Parameter]
    public SwitchParameter BackingChain { get; set; }

    [Parameter]
    [ArgumentCompleter(typeof(SnapshotNameCompleter))]
    [ValidateNotNullOrEmpty]
    public string? Snapshot { get; set; }

    [Parameter]
    public SwitchParameter ForceShare { get; set; }

    protected override void ProcessRecord()
    {
        ForEachImage(ImagePath, image =>
        {
            var chain = Run(cancel => ImageOperations.InspectAsync(new InspectOptions
            {
                Image = image,
                Snapshot = Snapshot,
                BackingChain = BackingChain,
                ForceShare = ForceShare,
            }, cancel));
            WriteObject(OutputObjects.Images(image, chain), enumerateCollection: true);
        });
    }
}
