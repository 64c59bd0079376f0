using System.CommandLine;
using System.Globalization;
using System.Text;
using Qcow2Mount.Cli.Prompts;
using Qcow2Mount.Operations;
using Qcow2Mount.Qcow2.Mapping;

namespace Qcow2Mount.Cli.Commands;

/// <summary>
/// <c>qcow2mount map IMAGE [--output=json|human]</c>: how each run of guest bytes is stored, as <c>qemu-img map</c>
/// prints it (the JSON byte for byte as QEMU 7.2 prints it; the human form lists the runs stored at a host offset).
/// Reads metadata only, under the reader locks (-U: none).
/// </summary>
internal static class MapCommand
{
    internal sealed record Options(string Image, string? Format, string Output, bool ForceShare = false, string? PasswordFile = null);

    public static Command Create()
    {
        var image = CommonOptions.Image();
        var format = CommonOptions.Format();
        var outputFormat = new Option<string>("--output")
        {
            Description = "Output format: human (runs stored at a host offset, as qemu-img map) or json (every run)",
            HelpName = "FORMAT",
            DefaultValueFactory = _ => "human",
        }.AcceptOnlyFromAmong("human", "json");
        var forceShare = CommonOptions.ForceShare();
        var passwordFile = CommonOptions.PasswordFile();
        var command = new Command("map", "Show how the guest bytes are stored (qemu-img map): depth, present, zero, data, host offset")
        {
            image, format, outputFormat, forceShare, passwordFile,
        };
        command.SetAction(async (parse, cancel) => await ExecuteAsync(
            new Options(parse.GetValue(image)!, parse.GetValue(format), parse.GetValue(outputFormat)!, parse.GetValue(forceShare), parse.GetValue(passwordFile)),
            parse.InvocationConfiguration.Output, parse.InvocationConfiguration.Error, cancel).ConfigureAwait(false));
        return command;
    }

    internal static async Task<int> ExecuteAsync(Options options, TextWriter output, TextWriter error, CancellationToken cancellationToken)
    {
        bool json = options.Output == "json";
        var mapOptions = new MapOptions
        {
            Image = options.Image,
            Format = CommonOptions.ParseFormat(options.Format),
            ForceShare = options.ForceShare,
            Passwords = new CliPasswords(options.PasswordFile, error),
        };
        if (json)
        {
            bool first = true;
            var line = new StringBuilder();
            output.Write('[');
            await ImageOperations.MapAsync(mapOptions, entry =>
            {
                if (!first)
                {
                    output.Write(",\n");
                }

                first = false;
                output.Write(JsonLine(entry, line));
            }, cancellationToken).ConfigureAwait(false);
            output.Write("]\n");
            return ExitCodes.Success;
        }

        bool headed = false;
        string? unmappable = null;
        await ImageOperations.MapAsync(mapOptions, entry =>
        {
            if (!headed)
            {
                output.Write(string.Create(CultureInfo.InvariantCulture, $"{"Offset",-16}{"Length",-16}{"Mapped to",-16}File\n"));
                headed = true;
            }

            if (unmappable is not null || !entry.Data)
            {
                return;
            }

            if (entry.Offset is not { } offset)
            {
                // qemu-img stops here: a run stored without a plain host offset has no line in this form.
                unmappable = "File contains external, encrypted or compressed clusters.";
                return;
            }

            output.Write(string.Create(CultureInfo.InvariantCulture, $"{Hex(entry.Start),-16}{Hex(entry.Length),-16}{Hex(offset),-16}{entry.File}\n"));
        }, cancellationToken).ConfigureAwait(false);
        if (unmappable is not null)
        {
            throw new UsageException(unmappable + " Use --output=json.");
        }

        return ExitCodes.Success;
    }

    /// <summary>One run as qemu-img's JSON line (without the separator).</summary>
    internal static string JsonLine(MapEntry entry, StringBuilder line)
    {
        line.Clear();
        line.Append(CultureInfo.InvariantCulture,
            $"{{ \"start\": {entry.Start}, \"length\": {entry.Length}, \"depth\": {entry.Depth}, \"present\": {Bool(entry.Present)}, \"zero\": {Bool(entry.Zero)}, \"data\": {Bool(entry.Data)}");
        if (entry.Offset is { } offset)
        {
            line.Append(CultureInfo.InvariantCulture, $", \"offset\": {offset}");
        }

        return line.Append('}').ToString();
    }

    private static string Bool(bool value) => value ? "true" : "false";

    /// <summary>printf's %#x: 0x before every value but zero.</summary>
    private static string Hex(long value) => value == 0 ? "0" : string.Create(CultureInfo.InvariantCulture, $"0x{value:x}");
}
