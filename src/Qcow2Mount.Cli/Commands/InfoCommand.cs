using System.CommandLine;
using Qcow2Mount.Cli.Output;
using Qcow2Mount.Operations;

namespace Qcow2Mount.Cli.Commands;

/// <summary><c>qcow2mount info IMAGE</c>: what <c>qemu-img info</c> shows.</summary>
internal static class InfoCommand
{
    internal sealed record Options(string Image, string? Format, bool Json, bool BackingChain, string? Snapshot, bool ForceShare = false);

    public static Command Create()
    {
        var image = CommonOptions.Image();
        var format = CommonOptions.Format();
        var json = CommonOptions.Json("Print JSON with the fields of 'qemu-img info --output=json'");
        var backingChain = new Option<bool>("--backing-chain") { Description = "Describe every image of the backing chain, overlay first" };
        var snapshot = CommonOptions.Snapshot("Describe the image as seen through this internal snapshot (id or name)");
        var forceShare = CommonOptions.ForceShare();
        var command = new Command("info", "Show the format, sizes, backing file, snapshots and qcow2 features of an image")
        {
            image, format, json, backingChain, snapshot, forceShare,
        };
        command.SetAction(async (parse, cancel) => await ExecuteAsync(
            new Options(parse.GetValue(image)!, parse.GetValue(format), parse.GetValue(json), parse.GetValue(backingChain), parse.GetValue(snapshot),
                parse.GetValue(forceShare)),
            parse.InvocationConfiguration.Output, cancel));
        return command;
    }

    internal static async Task<int> ExecuteAsync(Options options, TextWriter output, CancellationToken cancellationToken)
    {
        var images = await ImageOperations.InspectAsync(new InspectOptions
        {
            Image = options.Image,
            Format = CommonOptions.ParseFormat(options.Format),
            Snapshot = options.Snapshot,
            BackingChain = options.BackingChain,
            ForceShare = options.ForceShare,
        }, cancellationToken).ConfigureAwait(false);
        if (options.Json)
        {
            InfoJson.Write(images, asArray: options.BackingChain, output);
        }
        else
        {
            InfoText.Write(images, output);
        }

        return ExitCodes.Success;
    }
}
