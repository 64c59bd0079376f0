using System.CommandLine;
using Qcow2Mount.Cli.Parsing;
using Qcow2Mount.Cli.Prompts;
using Qcow2Mount.Operations;

namespace Qcow2Mount.Cli.Commands;

/// <summary>
/// <c>qcow2mount resize IMAGE [+]SIZE</c>, qemu-img's syntax: an absolute size or a <c>+</c> delta, with the
/// usual suffixes. Only growing is supported; a smaller size is refused.
/// </summary>
internal static class ResizeCommand
{
    public static Command Create()
    {
        var image = CommonOptions.Image(description: "qcow2 image to grow");
        var size = new Argument<string>("SIZE") { Description = "New size, or +DELTA to grow by (suffixes K, M, G, T); shrinking is refused" };
        var passwordFile = CommonOptions.PasswordFile();
        var command = new Command("resize", "Grow a qcow2 image's virtual disk") { image, size, passwordFile };
        command.SetAction(async (parse, cancel) =>
        {
            string path = parse.GetValue(image)!;
            string text = parse.GetValue(size)!;
            var output = parse.InvocationConfiguration.Output;
            bool delta = text.StartsWith('+'), shrink = text.StartsWith('-');
            long value = SizeParser.Parse(delta || shrink ? text[1..] : text, "SIZE");
            // Growing changes metadata only, unless zeros must hide a longer backing file: then an encrypted image
            // needs its password (from --password-file only: resize never prompts).
            var resized = await ImageOperations.ResizeAsync(new ResizeOptions
            {
                Image = path,
                Size = delta || shrink ? null : value,
                GrowBy = shrink ? -value : delta ? value : null,
                Passwords = new CliPasswords(parse.GetValue(passwordFile), parse.InvocationConfiguration.Error, mayPrompt: false),
            }, cancel);
            if (resized.Repaired is { } repaired)
            {
                output.WriteLine($"{path}: {repaired}");
            }

            output.WriteLine("Image resized.");
            return ExitCodes.Success;
        });
        return command;
    }
}
