using System.Diagnostics.CodeAnalysis;
using System.Management.Automation;

namespace Qcow2Mount.PowerShell.Hosting;

/// <summary>
/// A cmdlet whose first argument is one or more images, also from the pipeline by value or by property
/// (<c>Get-ChildItem *.qcow2 | Get-Qcow2Image</c>); each is one pipeline item (<see cref="Qcow2Cmdlet.ForEachImage"/>).
/// </summary>
public abstract class Qcow2ImagesCmdlet : Qcow2Cmdlet
{
    [Parameter(Mandatory = true, Position = 0, ValueFromPipeline = true, ValueFromPipelineByPropertyName = true)]
    [Alias("PSPath", "FullName", "Path")]
    [ValidateNotNullOrEmpty]
    [SuppressMessage("Performance", "CA1819:Properties should not return arrays", Justification = "PowerShell binds a list parameter to an array, as every cmdlet declares one.")]
    public string[] ImagePath { get; set; } = [];
}
