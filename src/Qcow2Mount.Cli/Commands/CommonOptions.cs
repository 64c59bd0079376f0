using System.CommandLine;

namespace Qcow2Mount.Cli.Commands;

/// <summary>Options several commands share, defined once so they read and behave the same everywhere.</summary>
internal static class CommonOptions
{
    public static Argument<string> Image(string name = "IMAGE", string description = "Image file (qcow2 or raw)") =>
        new(name) { Description = description };

    public static Option<string?> Format() =>
        new Option<string?>("-f", "--format")
        {
            Description = "Image format (qcow2 or raw); probed from the file when omitted",
            HelpName = "FORMAT",
        }.AcceptOnlyFromAmong("qcow2", "raw");

    public static Option<string?> Snapshot(string description) =>
        new("--snapshot", "-l") { Description = description, HelpName = "NAME" };

    public static Option<bool> Json(string description) => new("--json") { Description = description };
}
