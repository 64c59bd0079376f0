using System.CommandLine;
using Qcow2Mount.Cli.Output;
using Qcow2Mount.Operations;
using Qcow2Mount.Qcow2.Check;

namespace Qcow2Mount.Cli.Commands;

/// <summary>
/// <c>qcow2mount check IMAGE [--repair leaks|all] [--json]</c>: qemu-img check's categories and exit codes
/// (0 clean, 1 check failed, 2 corruptions, 3 leaks only). Without --repair nothing is written.
/// </summary>
internal static class CheckCommand
{
    internal sealed record Options(string Image, string? Repair, bool Json, bool Progress = false, bool ForceShare = false);

    public static Command Create()
    {
        var image = CommonOptions.Image(description: "qcow2 image file");
        var repair = new Option<string?>("--repair", "-r")
        {
            Description = "Repair: 'leaks' lowers too-high refcounts; 'all' also fixes corruptions and COPIED flags",
        };
        repair.AcceptOnlyFromAmong("leaks", "all");
        var json = CommonOptions.Json("Print the result as 'qemu-img check --output=json' does");
        var progress = new Option<bool>("-p", "--progress") { Description = "Show a progress bar even when stderr is not a terminal" };
        var forceShare = CommonOptions.ForceShare("Check even an image that is being written, as qemu-img -U (it may then look corrupt); not with --repair");
        var command = new Command("check", "Check (and optionally repair) an image's metadata; exit 0 clean, 1 failed, 2 corrupt, 3 leaks")
        {
            image, repair, json, progress, forceShare,
        };
        command.SetAction(async (parse, cancel) => await RunAsync(
            new Options(parse.GetValue(image)!, parse.GetValue(repair), parse.GetValue(json), parse.GetValue(progress), parse.GetValue(forceShare)),
            parse.InvocationConfiguration.Output, parse.InvocationConfiguration.Error, cancel));
        return command;
    }

    internal static async Task<int> RunAsync(Options options, TextWriter output, TextWriter error, CancellationToken cancellationToken)
    {
        if (options.ForceShare && options.Repair is not null)
        {
            throw new UsageException("-U/--force-share cannot be used with --repair: a repair needs the image to itself");
        }

        var bar = ProgressBar.For(error, options.Progress);
        var result = await ImageOperations.CheckAsync(new CheckImageOptions
        {
            Image = options.Image,
            Repair = options.Repair switch
            {
                "leaks" => RepairMode.Leaks,
                "all" => RepairMode.All,
                _ => null,
            },
            ForceShare = options.ForceShare,
        }, bar, cancellationToken).ConfigureAwait(false);
        bar?.Finish();
        if (options.Json)
        {
            JsonOutput.Write(output, json =>
            {
                json.WriteStartObject();
                json.WriteNumber("image-end-offset", result.ImageEndOffset);
                json.WriteNumber("total-clusters", result.TotalClusters);
                json.WriteNumber("check-errors", result.CheckErrors);
                json.WriteNumber("leaks", result.Leaks);
                json.WriteNumber("leaks-fixed", result.LeaksFixed);
                json.WriteNumber("corruptions", result.Corruptions);
                json.WriteNumber("corruptions-fixed", result.CorruptionsFixed);
                json.WriteNumber("allocated-clusters", result.AllocatedClusters);
                json.WriteString("filename", options.Image);
                json.WriteString("format", "qcow2");
                json.WriteNumber("fragmented-clusters", result.FragmentedClusters);
                json.WriteNumber("compressed-clusters", result.CompressedClusters);
                json.WriteEndObject();
            });
            return result.ExitCode;
        }

        foreach (string message in result.Messages)
        {
            output.WriteLine(message);
        }

        if (result.LeaksFixed + result.CorruptionsFixed > 0)
        {
            output.WriteLine($"The following inconsistencies were found and repaired:");
            output.WriteLine();
            output.WriteLine($"    {result.LeaksFixed} leaked clusters");
            output.WriteLine($"    {result.CorruptionsFixed} corruptions");
            output.WriteLine();
        }

        if (result.IsClean)
        {
            output.WriteLine("No errors were found on the image.");
        }
        else
        {
            if (result.Corruptions > 0)
            {
                output.WriteLine($"{result.Corruptions} errors were found on the image.");
                output.WriteLine("Data may be corrupted, or further writes to the image may corrupt it.");
            }

            if (result.Leaks > 0)
            {
                output.WriteLine($"{result.Leaks} leaked clusters were found on the image.");
                output.WriteLine("This means waste of disk space, but no harm to data.");
            }

            if (result.CheckErrors > 0)
            {
                output.WriteLine($"{result.CheckErrors} internal errors have occurred during the check.");
            }
        }

        if (result.TotalClusters > 0)
        {
            double allocated = 100.0 * result.AllocatedClusters / result.TotalClusters;
            double fragmented = result.AllocatedClusters == 0 ? 0 : 100.0 * result.FragmentedClusters / result.AllocatedClusters;
            double compressed = result.AllocatedClusters == 0 ? 0 : 100.0 * result.CompressedClusters / result.AllocatedClusters;
            output.WriteLine(FormattableString.Invariant(
                $"{result.AllocatedClusters}/{result.TotalClusters} = {allocated:F2}% allocated, {fragmented:F2}% fragmented, {compressed:F2}% compressed clusters"));
        }

        output.WriteLine($"Image end offset: {result.ImageEndOffset}");
        return result.ExitCode;
    }
}
