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

    /// <summary>The password of an encrypted image, read from a file (its first line; "-" reads standard input).</summary>
    public static Option<string?> PasswordFile() =>
        new("--password-file")
        {
            Description = "Encrypted images (LUKS, legacy AES): read the password from the first line of this file ('-': standard input)",
            HelpName = "FILE",
        };

    /// <summary>Reads the password <see cref="PasswordFile"/> names: its first line, as UTF-8; null when none was named.</summary>
    public static byte[]? ReadPassword(string? file)
    {
        if (file is null)
        {
            return null;
        }

        string text;
        try
        {
            text = file == "-" ? Console.In.ReadLine() ?? "" : File.ReadLines(file).FirstOrDefault() ?? "";
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw new UsageException($"--password-file {file}: {e.Message}");
        }

        return System.Text.Encoding.UTF8.GetBytes(text);
    }

    /// <summary>
    /// The password for <paramref name="image"/>: from <paramref name="file"/> when given; otherwise, when the
    /// image or a file of its backing chain is encrypted and both standard input and <paramref name="error"/> are a
    /// terminal, asked for there without echo; otherwise null (an encrypted image is then refused with exit 14).
    /// </summary>
    public static byte[]? Password(string? file, string image, string? format, TextWriter error)
    {
        if (file is not null)
        {
            return ReadPassword(file);
        }

        if (!ReferenceEquals(error, Console.Error) || Console.IsErrorRedirected || Console.IsInputRedirected || !NeedsPassword(image, format))
        {
            return null;
        }

        error.Write($"Password for {image}: ");
        var typed = new System.Text.StringBuilder();
        while (true)
        {
            var key = Console.ReadKey(intercept: true);
            if (key.Key == ConsoleKey.Enter)
            {
                break;
            }

            if (key.Key == ConsoleKey.Backspace)
            {
                typed.Length = Math.Max(0, typed.Length - 1);
            }
            else if (key.KeyChar != '\0')
            {
                typed.Append(key.KeyChar);
            }
        }

        error.WriteLine();
        return System.Text.Encoding.UTF8.GetBytes(typed.ToString());
    }

    /// <summary>Whether any image of the chain is encrypted; false when that cannot be told (the real open then says why).</summary>
    private static bool NeedsPassword(string image, string? format)
    {
        try
        {
            return Operations.ImageInspector.Inspect(image, format, null, backingChain: true, forceShare: true).Any(i => i.Encrypted);
        }
        catch (Exception e) when (e is Qcow2Mount.Qcow2.Qcow2Exception or IOException or UnauthorizedAccessException)
        {
            return false;
        }
    }

    /// <summary>
    /// qemu-img's -U. Without it a command that reads an image takes what a QEMU reader takes, so an image a running
    /// VM or qemu-img is writing is refused instead of read half-updated; with it the command takes no lock at all.
    /// </summary>
    public static Option<bool> ForceShare(string description = "Read even an image QEMU or a writable mount is writing, as qemu-img -U (what is read may be inconsistent)") =>
        new("-U", "--force-share") { Description = description };
}
