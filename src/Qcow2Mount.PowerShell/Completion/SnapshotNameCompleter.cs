using System.Collections;
using System.Management.Automation;
using System.Management.Automation.Language;
using Qcow2Mount.Operations;

namespace Qcow2Mount.PowerShell.Completion;

/// <summary>
/// Completes a snapshot name (-Snapshot, -Name) with the internal snapshots of the image the command line names in
/// -ImagePath. It reads the snapshot table without taking a lock (as qemu-img -U), so completing never disturbs a
/// VM that writes the image; nothing is offered when the image cannot be read.
/// </summary>
public sealed class SnapshotNameCompleter : IArgumentCompleter
{
    private static readonly TimeSpan Budget = TimeSpan.FromSeconds(5);

    public IEnumerable<CompletionResult> CompleteArgument(string commandName, string parameterName, string wordToComplete,
        CommandAst commandAst, IDictionary fakeBoundParameters)
    {
        ArgumentNullException.ThrowIfNull(fakeBoundParameters);
        string? image = CompletionPaths.BoundImage(fakeBoundParameters);
        if (image is null || !File.Exists(image))
        {
            return [];
        }

        IReadOnlyList<Qcow2Mount.Qcow2.Snapshots.SnapshotInfo> snapshots;
        try
        {
            using var timeout = new CancellationTokenSource(Budget);
            snapshots = ImageOperations.ListSnapshotsAsync(new SnapshotListOptions { Image = image, ForceShare = true }, timeout.Token)
                .GetAwaiter().GetResult();
        }
        catch (Exception e) when (e is OperationException or OperationCanceledException)
        {
            return [];
        }

        string word = CompletionPaths.Unquote(wordToComplete ?? "");
        return snapshots
            .Where(s => s.Name.StartsWith(word, StringComparison.OrdinalIgnoreCase))
            .Select(s => new CompletionResult(CompletionPaths.Quote(s.Name), s.Name, CompletionResultType.ParameterValue,
                $"{s.Name} (id {s.Id}, {s.Date.ToLocalTime():yyyy-MM-dd HH:mm:ss})"))
            .ToList();
    }
}
