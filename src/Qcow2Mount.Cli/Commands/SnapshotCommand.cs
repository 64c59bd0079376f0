using System.CommandLine;
using Qcow2Mount.Cli.Output;
using Qcow2Mount.Qcow2;

namespace Qcow2Mount.Cli.Commands;

/// <summary><c>qcow2mount snapshot list IMAGE</c>: the internal snapshots, like <c>qemu-img snapshot -l</c>.</summary>
internal static class SnapshotCommand
{
    internal sealed record ListOptions(string Image, bool Json);

    public static Command Create()
    {
        var image = CommonOptions.Image(description: "qcow2 image file");
        var json = CommonOptions.Json("Print a JSON array of the snapshot objects of 'qemu-img info --output=json'");
        var list = new Command("list", "List the internal snapshots (columns of 'qemu-img snapshot -l')") { image, json };
        list.SetAction(parse => List(new ListOptions(parse.GetValue(image)!, parse.GetValue(json)), parse.InvocationConfiguration.Output));
        return new Command("snapshot", "Work with internal snapshots") { list };
    }

    internal static int List(ListOptions options, TextWriter output)
    {
        using var image = Qcow2Image.Open(options.Image, new Qcow2OpenOptions { IgnoreBacking = true });
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
