using System.CommandLine;
using Qcow2Mount.Operations;

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

    /// <summary>The password of an encrypted image, read from a file (its first line; "-" reads standard input).</summary>
    public static Option<string?> PasswordFile() =>
        new("--password-file")
        {
            Description = "Encrypted images (LUKS, legacy AES): read the password from the first line of this file ('-': standard input)",
            HelpName = "FILE",
        };

    /// <summary>The value of <see cref="Format"/> as the core takes it; null probes.</summary>
    public static ImageFormat? ParseFormat(string? format) => format switch
    {
        null => null,
        "raw" => ImageFormat.Raw,
        "qcow2" => ImageFormat.Qcow2,
        _ => throw new UsageException($"-f {format}: unknown format (qcow2, raw)"),
    };

    /// <summary>
    /// qemu-img's -U. Without it a command that reads an image takes what a QEMU reader takes, so an image a running
    /// VM or qemu-img is writing is refused instead of read half-updated; with it the command takes no lock at all.
    /// </summary>
    public static Option<bool> ForceShare(string description = "Read even an image QEMU or a writable mount is writing, as qemu-img -U (what is read may be inconsistent)") =>
        new("-U", "--force-share") { Description = description };
}
