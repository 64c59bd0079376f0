using System.CommandLine;
using Qcow2Mount.Cli.Output;
using Qcow2Mount.Operations;

namespace Qcow2Mount.Cli.Commands;

/// <summary>
/// <c>qcow2mount snapshot list IMAGE</c>: the internal snapshots, like <c>qemu-img snapshot -l</c>;
/// <c>snapshot create|delete|apply IMAGE NAME</c>: like <c>qemu-img snapshot -c|-d|-a</c>.
/// </summary>
internal static class SnapshotCommand
{
    internal sealed record ListOptions(string Image, bool Json, bool ForceShare = false);

    internal sealed record ChangeOptions(SnapshotChange Change, string Image, string Name);

    public static Command Create()
    {
        var image = CommonOptions.Image(description: "qcow2 image file");
        var json = CommonOptions.Json("Print a JSON array of the snapshot objects of 'qemu-img info --output=json'");
        var forceShare = CommonOptions.ForceShare();
        var list = new Command("list", "List the internal snapshots (columns of 'qemu-img snapshot -l')") { image, json, forceShare };
        list.SetAction(async (parse, cancel) => await ListAsync(new ListOptions(parse.GetValue(image)!, parse.GetValue(json), parse.GetValue(forceShare)),
            parse.InvocationConfiguration.Output, cancel));
        return new Command("snapshot", "Work with internal snapshots")
        {
            list,
            ChangeCommand(SnapshotChange.Create, "Take an internal snapshot of the current disk state ('qemu-img snapshot -c')", "Name of the new snapshot"),
            ChangeCommand(SnapshotChange.Delete, "Delete an internal snapshot ('qemu-img snapshot -d')", "Id or name of the snapshot"),
            ChangeCommand(SnapshotChange.Apply, "Revert the disk to an internal snapshot ('qemu-img snapshot -a')", "Id or name of the snapshot"),
        };
    }

    private static Command ChangeCommand(SnapshotChange change, string description, string nameDescription)
    {
        var image = CommonOptions.Image(description: "qcow2 image file (opened read/write)");
        var name = new Argument<string>("NAME") { Description = nameDescription };
        var command = new Command(change.ToString().ToLowerInvariant(), description) { image, name };
        command.SetAction(async (parse, cancel) =>
            await RunAsync(new ChangeOptions(change, parse.GetValue(image)!, parse.GetValue(name)!), parse.InvocationConfiguration.Output, cancel));
        return command;
    }

    internal static async Task<int> RunAsync(ChangeOptions options, TextWriter output, CancellationToken cancellationToken)
    {
        if (string.IsNullOrEmpty(options.Name))
        {
            // qemu-img accepts an empty name, but such a snapshot can only be told apart by its id.
            throw new UsageException("NAME: a snapshot name must not be empty");
        }

        var changed = await ImageOperations.ChangeSnapshotAsync(
            new SnapshotChangeOptions { Image = options.Image, Change = options.Change, Name = options.Name }, cancellationToken).ConfigureAwait(false);
        if (changed.Repaired is { } repaired)
        {
            output.WriteLine($"{options.Image}: {repaired}");
        }

        string done = options.Change switch
        {
            SnapshotChange.Create => "Created",
            SnapshotChange.Delete => "Deleted",
            _ => "Applied",
        };
        output.WriteLine($"{done} snapshot '{changed.Snapshot.Name}' (id {changed.Snapshot.Id}) in {options.Image}");
        return ExitCodes.Success;
    }

    internal static async Task<int> ListAsync(ListOptions options, TextWriter output, CancellationToken cancellationToken)
    {
        var snapshots = await ImageOperations.ListSnapshotsAsync(
            new SnapshotListOptions { Image = options.Image, ForceShare = options.ForceShare }, cancellationToken).ConfigureAwait(false);
        if (options.Json)
        {
            JsonOutput.Write(output, json =>
            {
                json.WriteStartArray();
                foreach (var snapshot in snapshots)
                {
                    SnapshotListing.WriteJson(json, snapshot);
                }

                json.WriteEndArray();
            });
        }
        else if (snapshots.Count > 0)
        {
            // qemu-img prints nothing at all for an image without snapshots.
            SnapshotListing.WriteText(snapshots, output);
        }

        return ExitCodes.Success;
    }
}
