using System.CommandLine;
using Qcow2Mount.Cli.Output;
using Qcow2Mount.Qcow2;

namespace Qcow2Mount.Cli.Commands;

/// <summary>
/// <c>qcow2mount snapshot list IMAGE</c>: the internal snapshots, like <c>qemu-img snapshot -l</c>;
/// <c>snapshot create|delete|apply IMAGE NAME</c>: like <c>qemu-img snapshot -c|-d|-a</c>.
/// </summary>
internal static class SnapshotCommand
{
    internal sealed record ListOptions(string Image, bool Json, bool ForceShare = false);

    internal enum Change
    {
        Create,
        Delete,
        Apply,
    }

    internal sealed record ChangeOptions(Change Change, string Image, string Name);

    public static Command Create()
    {
        var image = CommonOptions.Image(description: "qcow2 image file");
        var json = CommonOptions.Json("Print a JSON array of the snapshot objects of 'qemu-img info --output=json'");
        var forceShare = CommonOptions.ForceShare();
        var list = new Command("list", "List the internal snapshots (columns of 'qemu-img snapshot -l')") { image, json, forceShare };
        list.SetAction(parse => List(new ListOptions(parse.GetValue(image)!, parse.GetValue(json), parse.GetValue(forceShare)),
            parse.InvocationConfiguration.Output));
        return new Command("snapshot", "Work with internal snapshots")
        {
            list,
            ChangeCommand(Change.Create, "Take an internal snapshot of the current disk state ('qemu-img snapshot -c')", "Name of the new snapshot"),
            ChangeCommand(Change.Delete, "Delete an internal snapshot ('qemu-img snapshot -d')", "Id or name of the snapshot"),
            ChangeCommand(Change.Apply, "Revert the disk to an internal snapshot ('qemu-img snapshot -a')", "Id or name of the snapshot"),
        };
    }

    private static Command ChangeCommand(Change change, string description, string nameDescription)
    {
        var image = CommonOptions.Image(description: "qcow2 image file (opened read/write)");
        var name = new Argument<string>("NAME") { Description = nameDescription };
        var command = new Command(change.ToString().ToLowerInvariant(), description) { image, name };
        command.SetAction(parse => Run(new ChangeOptions(change, parse.GetValue(image)!, parse.GetValue(name)!), parse.InvocationConfiguration.Output));
        return command;
    }

    internal static int Run(ChangeOptions options, TextWriter output)
    {
        if (string.IsNullOrEmpty(options.Name))
        {
            // qemu-img accepts an empty name, but such a snapshot can only be told apart by its id.
            throw new UsageException("NAME: a snapshot name must not be empty");
        }

        using var image = Qcow2Image.Open(options.Image, new Qcow2OpenOptions { Writable = true, MetadataOnly = true });
        if (image.DirtyRepair is { } repair)
        {
            output.WriteLine($"{options.Image}: {repair.DirtyRepairSummary}");
        }

        var snapshot = options.Change switch
        {
            Change.Create => image.CreateSnapshot(options.Name),
            Change.Delete => image.DeleteSnapshot(options.Name),
            _ => image.ApplySnapshot(options.Name),
        };
        string done = options.Change switch
        {
            Change.Create => "Created",
            Change.Delete => "Deleted",
            _ => "Applied",
        };
        output.WriteLine($"{done} snapshot '{snapshot.Name}' (id {snapshot.Id}) in {options.Image}");
        return ExitCodes.Success;
    }

    internal static int List(ListOptions options, TextWriter output)
    {
        using var image = Qcow2Image.Open(options.Image, new Qcow2OpenOptions { IgnoreBacking = true, HoldReaderLock = !options.ForceShare, MetadataOnly = true });
        var snapshots = image.Snapshots;
        if (options.Json)
        {
            JsonOutput.Write(output, json =>
            {
                json.WriteStartArray();
                foreach (var snapshot in snapshots)
                {
                    SnapshotTable.WriteJson(json, snapshot);
                }

                json.WriteEndArray();
            });
        }
        else if (snapshots.Count > 0)
        {
            // qemu-img prints nothing at all for an image without snapshots.
            SnapshotTable.WriteText(snapshots, output);
        }

        return ExitCodes.Success;
    }
}
