using System.Management.Automation;
using System.Security;
using Qcow2Mount.Operations;
using Qcow2Mount.PowerShell.Completion;
using Qcow2Mount.PowerShell.Hosting;

namespace Qcow2Mount.PowerShell.Commands;

/// <summary>
/// Get-Qcow2ImageHash: the hash of an image's guest bytes, shaped like Get-FileHash's output and equal to
/// Get-FileHash of the mounted disk.raw (or of <c>qemu-img convert -O raw</c>'s file), computed without mounting.
/// </summary>
[Cmdlet(VerbsCommon.Get, "Qcow2ImageHash")]
[OutputType(typeof(Qcow2ImageHash))]
public sealed class GetQcow2ImageHashCommand : Qcow2ImagesCmdlet
{
    /// <summary>As Get-FileHash names them; SHA256 by default.</summary>
    [Parameter(Position = 1)]
    [ValidateSet("SHA1", "SHA256", "SHA512", "MD5", IgnoreCase = true)]
    public string Algorithm { get; set; } = "SHA256";

    [Parameter]
    [ArgumentCompleter(typeof(SnapshotNameCompleter))]
    [ValidateNotNullOrEmpty]
    public string? Snapshot { get; set; }

    [Parameter]
    public SwitchParameter ForceShare { get; set; }

    [Parameter]
    public SecureString? Password { get; set; }

    protected override void ProcessRecord()
    {
        var algorithm = Enum.Parse<DigestAlgorithm>(Algorithm, ignoreCase: true);
        ForEachImage(ImagePath, image =>
        {
            var result = RunWithProgress("Hashing qcow2 image", image, (progress, cancel) => ImageOperations.HashAsync(new HashOptions
            {
                Image = image,
                Snapshot = Snapshot,
                Algorithms = [algorithm],
                ForceShare = ForceShare,
                Passwords = new SecureStringPasswordProvider(Password),
            }, progress, cancel));
            WriteObject(OutputObjects.Hash(image, result.Digests[0]));
        });
    }
}
