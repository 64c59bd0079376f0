using System.Management.Automation;
using Qcow2Mount.Operations;
using Qcow2Mount.PowerShell.Hosting;
using Qcow2Mount.Qcow2.Create;

namespace Qcow2Mount.PowerShell.Commands;

/// <summary>New-Qcow2Image: creates an empty qcow2 image (<c>qemu-img create -f qcow2</c>), optionally over a backing file.</summary>
[Cmdlet(VerbsCommon.New, "Qcow2Image", SupportsShouldProcess = true, ConfirmImpact = ConfirmImpact.Medium)]
[OutputType(typeof(FileInfo))]
public sealed class NewQcow2ImageCommand : Qcow2ImagesCmdlet
{
    /// <summary>The guest size in bytes (PowerShell's 64GB works); optional with -BackingFile (then the backing file's).</summary>
    [Parameter(Position = 1)]
    [ValidateRange(0, long.MaxValue)]
    public long? Size { get; set; }

    /// <summary>The image writes go over; stored as given (a relative name is relative to the new image's folder).</summary>
    [Parameter]
    [ValidateNotNullOrEmpty]
    public string? BackingFile { get; set; }

    [Parameter]
    [ValidateSet("qcow2", "raw", IgnoreCase = true)]
    public string? BackingFormat { get; set; }

    [Parameter]
    [ValidateRange(512, 2 * 1024 * 1024)]
    public int ClusterSize { get; set; } = 64 * 1024;

    [Parameter]
    public SwitchParameter Force { get; set; }

    protected override void ProcessRecord()
    {
        foreach (string path in ImagePath)
        {
            string image = ResolvePath(path);
            ForItem(image, () =>
            {
                if (!ShouldProcess(image, Force && File.Exists(image) ? "Replace with a new, empty qcow2 image" : "Create a qcow2 image"))
                {
                    return;
                }

                var created = Run(cancel => ImageOperations.CreateAsync(new CreateImageOptions
                {
                    Image = image,
                    Layout = new CreateOptions
                    {
                        Size = Size,
                        BackingFile = BackingFile,
                        BackingFormat = BackingFormat?.ToLowerInvariant(),
                        ClusterSize = ClusterSize,
                        Overwrite = Force,
                    },
                }, cancel));
                WriteObject(new FileInfo(created.Image));
            });
        }
    }
}
