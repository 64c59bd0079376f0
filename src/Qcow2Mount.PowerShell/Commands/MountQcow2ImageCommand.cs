using System.Management.Automation;
using System.Security;
using Qcow2Mount.Mounting;
using Qcow2Mount.Operations;
using Qcow2Mount.PowerShell.Completion;
using Qcow2Mount.PowerShell.Hosting;

namespace Qcow2Mount.PowerShell.Commands;

/// <summary>
/// Mount-Qcow2Image: mounts each image through the mount service (started when none runs), so its guest bytes
/// appear as one raw file, <c>disk.raw</c>, at the mount point. Read-only unless -Access ReadWrite or -Overlay.
/// </summary>
[Cmdlet(VerbsData.Mount, "Qcow2Image", SupportsShouldProcess = true, ConfirmImpact = ConfirmImpact.Medium)]
[OutputType(typeof(Qcow2MountedImage))]
public sealed class MountQcow2ImageCommand : Qcow2ImagesCmdlet
{
    [Parameter(Position = 1, ValueFromPipelineByPropertyName = true)]
    [ArgumentCompleter(typeof(MountPointCompleter))]
    [ValidateNotNullOrEmpty]
    public string? MountPoint { get; set; }

    [Parameter]
    public Qcow2ImageAccess Access { get; set; } = Qcow2ImageAccess.ReadOnly;

    [Parameter]
    public SwitchParameter Overlay { get; set; }

    [Parameter]
    [ValidateNotNullOrEmpty]
    public string? OverlayPath { get; set; }

    [Parameter]
    public SwitchParameter KeepOverlay { get; set; }

    [Parameter]
    [ArgumentCompleter(typeof(SnapshotNameCompleter))]
    [ValidateNotNullOrEmpty]
    public string? Snapshot { get; set; }

    [Parameter]
    public SwitchParameter ForceShare { get; set; }

    [Parameter]
    public SecureString? Password { get; set; }

    [Parameter]
    public SwitchParameter PassThru { get; set; }

    private MountClient? _client;

    protected override void BeginProcessing()
    {
        bool overlay = Overlay || OverlayPath is not null;
        if (Snapshot is not null && (overlay || Access == Qcow2ImageAccess.ReadWrite))
        {
            ThrowTerminatingError(new ErrorRecord(
                new ArgumentException("-Snapshot mounts a snapshot read-only: it cannot be combined with -Access ReadWrite or -Overlay."),
                "InvalidOptions", ErrorCategory.InvalidArgument, Snapshot));
        }

        if (KeepOverlay && !overlay)
        {
            ThrowTerminatingError(new ErrorRecord(new ArgumentException("-KeepOverlay applies to -Overlay mounts only."),
                "InvalidOptions", ErrorCategory.InvalidArgument, null));
        }

        if (ServiceExecutable.Find(out string searched) is not { } program)
        {
            ThrowTerminatingError(ErrorRecords.ServiceExecutableNotFound(searched, null));
            return;
        }

        _client = new MountClient(new MountClientOptions { ServiceProgram = program });
    }

    protected override void ProcessRecord()
    {
        var mode = Snapshot is not null ? MountMode.Snapshot
            : Overlay || OverlayPath is not null ? MountMode.Overlay
            : Access == Qcow2ImageAccess.ReadWrite ? MountMode.Writable
            : MountMode.ReadOnly;
        ForEachImage(ImagePath, image =>
        {
            string? mountPoint = MountPoint is null ? null
                : OperatingSystem.IsWindows() && DefaultMountPoint.IsDriveLetter(MountPoint) ? DefaultMountPoint.NormalizeDriveLetter(MountPoint)
                : ResolvePath(MountPoint);
            string where = mountPoint ?? (OperatingSystem.IsWindows() ? "the next free drive letter" : "a new folder under " + DefaultMountPoint.Root);
            if (!ShouldProcess(image, $"Mount {Describe(mode)} at {where}"))
            {
                return;
            }

            bool madeFolder = false;
            if (mountPoint is null)
            {
                madeFolder = !OperatingSystem.IsWindows();
                // Windows: "*" lets the service take the next free letter from Z: down, as the CLI and WinFsp do.
                mountPoint = OperatingSystem.IsWindows() ? "*" : DefaultMountPoint.NewFolderFor(image);
            }

            try
            {
                var mounted = Run(cancel => _client!.MountAsync(new MountImageOptions
                {
                    Image = image,
                    MountPoint = mountPoint,
                    Mode = mode,
                    Snapshot = Snapshot,
                    OverlayPath = OverlayPath is null ? null : ResolvePath(OverlayPath),
                    KeepOverlay = KeepOverlay,
                    ForceShare = ForceShare,
                    Passwords = new SecureStringPasswordProvider(Password),
                }, cancel));
                if (PassThru)
                {
                    WriteObject(OutputObjects.Mount(mounted));
                }
            }
            catch when (madeFolder)
            {
                DefaultMountPoint.RemoveIfMadeHere(mountPoint);
                throw;
            }
        });
    }

    private string Describe(MountMode mode) => mode switch
    {
        MountMode.Snapshot => $"snapshot '{Snapshot}' read-only",
        MountMode.Overlay => "with writes going to an overlay (the image stays unchanged)",
        MountMode.Writable => "read/write (writes change the image)",
        _ => "read-only",
    };
}
