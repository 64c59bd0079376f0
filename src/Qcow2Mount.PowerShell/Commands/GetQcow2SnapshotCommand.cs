using System.Diagnostics.CodeAnalysis;
using System.Management.Automation;
using Qcow2Mount.Operations;
using Qcow2Mount.PowerShell.Completion;
using Qcow2Mount.PowerShell.Hosting;

namespace Qcow2Mount.PowerShell.Commands;

/// <summary>Get-Qcow2Snapshot: the internal snapshots of each image (<c>qemu-img snapshot -l</c>), optionally by name.</summary>
[Cmdlet(VerbsCommon.Get, "Qcow2Snapshot")]
[OutputType(typeof(Qcow2Snapshot))]
public sealed class GetQcow2SnapshotCommand : Qcow2ImagesCmdlet
{
    /// <summary>Names or ids, wildcards allowed; a name without wildcards that matches nothing is an error.</summary>
    [Parameter(Position = 1)]
    [ArgumentCompleter(typeof(SnapshotNameCompleter))]
    [ValidateNotNullOrEmpty]
    [SupportsWildcards]
    [SuppressMessage("Performance", "CA1819:Properties should not return arrays", Justification = "PowerShell binds a list parameter to an array, as every cmdlet declares one.")]
    public string[]? Name { get; set; }

    [Parameter]
    public SwitchParameter ForceShare { get; set; }

    protected override void ProcessRecord()
    {
        ForEachImage(ImagePath, image =>
        {
            var snapshots = Run(cancel => ImageOperations.ListSnapshotsAsync(new SnapshotListOptions { Image = image, ForceShare = ForceShare }, cancel));
            if (Name is null)
            {
                WriteObject(snapshots.Select(s => OutputObjects.Snapshot(image, s)), enumerateCollection: true);
                return;
            }

            foreach (string name in Name)
            {
                var pattern = new WildcardPattern(name, WildcardOptions.IgnoreCase);
                var matches = snapshots.Where(s => pattern.IsMatch(s.Name) || pattern.IsMatch(s.Id)).ToList();
                if (matches.Count == 0 && !WildcardPattern.ContainsWildcardCharacters(name))
                {
                    WriteError(ErrorRecords.For(
                        new OperationException(OperationErrorCode.SnapshotNotFound, $"{image}: no snapshot named '{name}'"), image));
                }

                WriteObject(matches.Select(s => OutputObjects.Snapshot(image, s)), enumerateCollection: true);
            }
        });
    }
}
