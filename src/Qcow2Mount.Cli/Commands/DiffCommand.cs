using System.CommandLine;
using System.Globalization;
using Qcow2Mount.Cli.Output;
using Qcow2Mount.Cli.Prompts;
using Qcow2Mount.Operations;

namespace Qcow2Mount.Cli.Commands;

/// <summary>
/// <c>qcow2mount diff IMAGE --from X --to Y</c>: the guest byte ranges that differ between two views of one qcow2
/// image (a snapshot, <c>backing</c>, <c>active</c>), found from the metadata first and confirmed by content.
/// Exit 0 whether or not they differ (the listing is the answer); reads under the reader locks (-U: none).
/// </summary>
internal static class DiffCommand
{
    internal sealed record Options(string Image, string From, string To, bool Json, bool ForceShare = false, string? PasswordFile = null);

    public static Command Create()
    {
        var image = CommonOptions.Image("IMAGE", "qcow2 image file");
        var from = new Option<string>("--from") { Description = "The older view: a snapshot (id or name), 'backing' or 'active'", HelpName = "VIEW", Required = true };
        var to = new Option<string>("--to") { Description = "The newer view: a snapshot (id or name), 'backing' or 'active'", HelpName = "VIEW", DefaultValueFactory = _ => "active" };
        var json = CommonOptions.Json("Print JSON: both sizes, the bytes compared and each differing range");
        var forceShare = CommonOptions.ForceShare();
        var passwordFile = CommonOptions.PasswordFile();
        var command = new Command("diff", "List the guest byte ranges that differ between two views of an image (snapshots, backing, active)")
        {
            image, from, to, json, forceShare, passwordFile,
        };
        command.SetAction(async (parse, cancel) => await ExecuteAsync(
            new Options(parse.GetValue(image)!, parse.GetValue(from)!, parse.GetValue(to)!, parse.GetValue(json), parse.GetValue(forceShare), parse.GetValue(passwordFile)),
            parse.InvocationConfiguration.Output, parse.InvocationConfiguration.Error, cancel).ConfigureAwait(false));
        return command;
    }

    internal static async Task<int> ExecuteAsync(Options options, TextWriter output, TextWriter error, CancellationToken cancellationToken)
    {
        var result = await ImageOperations.DiffAsync(new DiffOptions
        {
            Image = options.Image,
            From = options.From,
            To = options.To,
            ForceShare = options.ForceShare,
            Passwords = new CliPasswords(options.PasswordFile, error),
        }, cancellationToken).ConfigureAwait(false);

        if (options.Json)
        {
            JsonOutput.Write(output, writer =>
            {
                writer.WriteStartObject();
                writer.WriteString("image", Path.GetFullPath(options.Image));
                writer.WriteString("from", options.From);
                writer.WriteString("to", options.To);
                writer.WriteNumber("from-size", result.FromLength);
                writer.WriteNumber("to-size", result.ToLength);
                writer.WriteBoolean("identical", result.Identical);
                writer.WriteNumber("compared-bytes", result.CandidateBytes);
                writer.WriteNumber("different-bytes", result.DifferentBytes);
                writer.WriteStartArray("ranges");
                foreach (var range in result.Ranges)
                {
                    writer.WriteStartObject();
                    writer.WriteNumber("start", range.Start);
                    writer.WriteNumber("length", range.Length);
                    writer.WriteEndObject();
                }

                writer.WriteEndArray();
                writer.WriteEndObject();
            });
            return ExitCodes.Success;
        }

        var inv = CultureInfo.InvariantCulture;
        if (result.SizeChanged)
        {
            output.WriteLine(string.Create(inv, $"Size changed: {result.FromLength} -> {result.ToLength} bytes"));
        }

        if (result.Ranges.Count > 0)
        {
            output.WriteLine(string.Create(inv, $"{"Start",-20}{"End",-20}Length"));
            foreach (var range in result.Ranges)
            {
                output.WriteLine(string.Create(inv, $"{"0x" + range.Start.ToString("x", inv),-20}{"0x" + range.End.ToString("x", inv),-20}{range.Length} ({HumanSize.Format(range.Length)})"));
            }
        }

        output.WriteLine(result.Identical
            ? string.Create(inv, $"{options.From} and {options.To} are identical ({HumanSize.Format(result.CandidateBytes)} compared by content).")
            : string.Create(inv, $"{result.Ranges.Count} {(result.Ranges.Count == 1 ? "range" : "ranges")}, {result.DifferentBytes} bytes differ ({HumanSize.Format(result.CandidateBytes)} compared by content)."));
        return ExitCodes.Success;
    }
}
