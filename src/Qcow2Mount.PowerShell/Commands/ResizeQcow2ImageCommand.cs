using System.Management.Automation;
using System.Security;
using Qcow2Mount.Operations;
using Qcow2Mount.PowerShell.Hosting;

namespace Qcow2Mount.PowerShell.Commands;

/// <summary>Resize-Qcow2Image: grows the image's virtual disk (<c>qemu-img resize</c>); shrinking is refused.</summary>
[Cmdlet(VerbsCommon.Resize, "Qcow2Image", SupportsShouldProcess = true, ConfirmImpact = ConfirmImpact.Medium, DefaultParameterSetName = SizeSet)]
public sealed class ResizeQcow2ImageCommand : Qcow2ImagesCmdlet
{
    private const string SizeSet = "Size";
    private const string GrowBySet = "GrowBy";

    /// <summary>The new guest size in bytes.</summary>
    [Parameter(Mandatory = true, Position = 1, ParameterSetName = SizeSet)]
    [ValidateRange(0, long.MaxValue)]
    public long Size { get; set; }

    /// <summary>Bytes to add to the guest size.</summary>
    [Parameter(Mandatory = true, ParameterSetName = GrowBySet)]
    [ValidateRange(0, long.MaxValue)]
    public long GrowBy { get; set; }

    [Parameter]
    public SecureString? Password { get; set; }

    protected override void ProcessRecord()
    {
        foreach (string path in ImagePath)
        {
            string image = ResolvePath(path);
            ForItem(image, () =>
            {
                string change = ParameterSetName == GrowBySet ? $"Grow by {GrowBy} bytes" : $"Resize to {Size} bytes";
                if (!ShouldProcess(image, change))
                {
                    return;
                }

                var resized = Run(cancel => ImageOperations.ResizeAsync(new ResizeOptions
                {
                    Image = image,
                    Size = ParameterSetName == SizeSet ? Size : null,
                    GrowBy = ParameterSetName == GrowBySet ? GrowBy : null,
                    Passwords = new SecureStringPasswordProvider(Password),
                }, cancel));
                if (resized.Repaired is { } repaired)
                {
                    WriteWarning($"{image}: repaired first: {repaired}");
                }

                WriteVerbose($"{image}: virtual size {resized.Size} bytes");
            });
        }
    }
}
