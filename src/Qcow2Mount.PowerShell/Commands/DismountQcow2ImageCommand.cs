using System.Diagnostics.CodeAnalysis;
using System.Management.Automation;
using Qcow2Mount.Operations;
using Qcow2Mount.PowerShell.Completion;
using Qcow2Mount.PowerShell.Hosting;

namespace Qcow2Mount.PowerShell.Commands;

/// <summary>
/// Dismount-Qcow2Image: unmounts by image, by mount point or by the objects Get-Qcow2Mount writes; the image is
/// flushed and closed when it returns.
/// </summary>
[Cmdlet(VerbsData.Dismount, "Qcow2Image", SupportsShouldProcess = true, ConfirmImpact = ConfirmImpact.Medium, DefaultParameterSetName = ImagePathSet)]
[OutputType(typeof(Qcow2MountedImage))]
public sealed class DismountQcow2ImageCommand : Qcow2Cmdlet
{
    private const string ImagePathSet = "ImagePath";
    private const string MountPointSet = "MountPoint";
    private const string InputObjectSet = "InputObject";

    [Parameter(Mandatory = true, Position = 0, ParameterSetName = ImagePathSet, ValueFromPipeline = true, ValueFromPipelineByPropertyName = true)]
    [Alias("PSPath", "FullName", "Path")]
    [ValidateNotNullOrEmpty]
    [SuppressMessage("Performance", "CA1819:Properties should not return arrays", Justification = "PowerShell binds a list parameter to an array, as every cmdlet declares one.")]
    public string[] ImagePath { get; set; } = [];

    [Parameter(Mandatory = true, ParameterSetName = MountPointSet, ValueFromPipelineByPropertyName = true)]
    [ArgumentCompleter(typeof(MountPointCompleter))]
    [ValidateNotNullOrEmpty]
    [SuppressMessage("Performance", "CA1819:Properties should not return arrays", Justification = "PowerShell binds a list parameter to an array, as every cmdlet declares one.")]
    public string[] MountPoint { get; set; } = [];

    [Parameter(Mandatory = true, ParameterSetName = InputObjectSet, ValueFromPipeline = true)]
    [SuppressMessage("Performance", "CA1819:Properties should not return arrays", Justification = "PowerShell binds a list parameter to an array, as every cmdlet declares one.")]
    public Qcow2MountedImage[] InputObject { get; set; } = [];

    [Parameter]
    public SwitchParameter Force { get; set; }

    [Parameter]
    public SwitchParameter PassThru { get; set; }

    private MountClient? _client;

    protected override void BeginProcessing() =>
        // Unmounting never starts a service, so the executable need not be found: the endpoint is all it takes.
        _client = new MountClient(new MountClientOptions { ServiceProgram = ServiceExecutable.Find(out _) });

    protected override void ProcessRecord()
    {
        IEnumerable<string> targets = ParameterSetName switch
        {
            MountPointSet => MountPoint.Select(m => OperatingSystem.IsWindows() && DefaultMountPoint.IsDriveLetter(m) ? DefaultMountPoint.NormalizeDriveLetter(m) : ResolvePath(m)),
            InputObjectSet => InputObject.Select(m => m.MountPoint),
            _ => ImagePath.Select(ResolvePath),
        };
        foreach (string target in targets)
        {
            ForItem(target, () =>
            {
                if (!ShouldProcess(target, "Dismount"))
                {
                    return;
                }

                var unmounted = Run(cancel => _client!.UnmountAsync(new UnmountOptions { Target = target, Force = Force }, cancel));
                DefaultMountPoint.RemoveIfMadeHere(unmounted.MountPoint);
                if (unmounted.StillOpen)
                {
                    WriteWarning($"{unmounted.MountPoint}: files were still open on it; they keep the image open until they are closed (what was written so far is flushed).");
                }

                if (PassThru)
                {
                    WriteObject(OutputObjects.Mount(unmounted, attached: false));
                }
            });
        }
    }
}
