using System.Management.Automation;
using System.Security;
using Qcow2Mount.Operations;
using Qcow2Mount.PowerShell.Completion;
using Qcow2Mount.PowerShell.Hosting;

namespace Qcow2Mount.PowerShell.Commands;

/// <summary>
/// Convert-Qcow2Image: writes an image's guest bytes to a raw file (sparse where zero) or a new qcow2 image
/// (<c>qemu-img convert</c>). The source is only read. A failed or stopped conversion leaves no destination behind.
/// </summary>
[Cmdlet(VerbsData.Convert, "Qcow2Image", SupportsShouldProcess = true, ConfirmImpact = ConfirmImpact.Medium)]
[OutputType(typeof(FileInfo))]
public sealed class ConvertQcow2ImageCommand : Qcow2Cmdlet
{
    [Parameter(Mandatory = true, Position = 0, ValueFromPipelineByPropertyName = true)]
    [Alias("PSPath", "FullName", "Path")]
    [ValidateNotNullOrEmpty]
    public string ImagePath { get; set; } = "";

    [Parameter(Mandatory = true, Position = 1, ValueFromPipelineByPropertyName = true)]
    [ValidateNotNullOrEmpty]
    public string Destination { get; set; } = "";

    [Parameter]
    public ImageFormat DestinationFormat { get; set; } = ImageFormat.Raw;

    /// <summary>qcow2 output: store the data clusters compressed.</summary>
    [Parameter]
    public SwitchParameter Compress { get; set; }

    [Parameter]
    [ArgumentCompleter(typeof(SnapshotNameCompleter))]
    [ValidateNotNullOrEmpty]
    public string? Snapshot { get; set; }

    [Parameter]
    public SwitchParameter ForceShare { get; set; }

    [Parameter]
    public SecureString? Password { get; set; }

    /// <summary>Replace an existing destination file.</summary>
    [Parameter]
    public SwitchParameter Force { get; set; }

    [Parameter]
    public SwitchParameter PassThru { get; set; }

    protected override void ProcessRecord()
    {
        string image = ResolvePath(ImagePath);
        string destination = ResolvePath(Destination);
        ForItem(image, () =>
        {
            bool exists = File.Exists(destination);
            if (exists && !Force)
            {
                WriteError(new ErrorRecord(new IOException($"{destination} exists: add -Force to replace it."),
                    "DestinationExists", ErrorCategory.ResourceExists, destination));
                return;
            }

            if (!ShouldProcess(destination, $"{(exists ? "Replace" : "Create")} with the guest bytes of {image} ({DestinationFormat})"))
            {
                return;
            }

            var converted = RunWithProgress("Converting qcow2 image", $"{image} -> {destination}", (progress, cancel) => ImageOperations.ConvertAsync(new ConvertOptions
            {
                Source = image,
                Destination = destination,
                OutputFormat = DestinationFormat,
                Compress = Compress,
                Snapshot = Snapshot,
                ForceShare = ForceShare,
                Passwords = new SecureStringPasswordProvider(Password),
            }, progress, cancel));
            if (PassThru)
            {
                WriteObject(new FileInfo(converted.Destination));
            }
        });
    }
}
