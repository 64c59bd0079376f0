using System.Management.Automation;
using Qcow2Mount.Operations;
using Qcow2Mount.PowerShell.Hosting;
using Qcow2Mount.Qcow2.Check;

namespace Qcow2Mount.PowerShell.Commands;

/// <summary>What Test-Qcow2Image -Repair may fix, as <c>qemu-img check -r</c>.</summary>
public enum Qcow2RepairMode
{
    /// <summary>Leaked clusters only (-r leaks): frees space, cannot lose data.</summary>
    Leaks,

    /// <summary>Leaks and corruptions (-r all).</summary>
    All,
}

/// <summary>
/// Test-Qcow2Image: checks the image's metadata as <c>qemu-img check</c> does, and writes the counts; -Repair fixes
/// leaks or everything (and changes the image, so it asks as -WhatIf/-Confirm say).
/// </summary>
[Cmdlet(VerbsDiagnostic.Test, "Qcow2Image", SupportsShouldProcess = true, ConfirmImpact = ConfirmImpact.Medium)]
[OutputType(typeof(Qcow2CheckResult))]
public sealed class TestQcow2ImageCommand : Qcow2ImagesCmdlet
{
    [Parameter]
    public Qcow2RepairMode? Repair { get; set; }

    [Parameter]
    public SwitchParameter ForceShare { get; set; }

    protected override void ProcessRecord()
    {
        ForEachImage(ImagePath, image =>
        {
            if (Repair is { } repair && !ShouldProcess(image, $"Repair {(repair == Qcow2RepairMode.Leaks ? "leaked clusters" : "leaks and corruptions")}"))
            {
                return;
            }

            var result = RunWithProgress("Checking qcow2 image", image, (progress, cancel) => ImageOperations.CheckAsync(new CheckImageOptions
            {
                Image = image,
                Repair = Repair switch
                {
                    Qcow2RepairMode.Leaks => RepairMode.Leaks,
                    Qcow2RepairMode.All => RepairMode.All,
                    _ => null,
                },
                ForceShare = ForceShare,
            }, progress, cancel));
            WriteObject(OutputObjects.Check(image, result));
        });
    }
}
