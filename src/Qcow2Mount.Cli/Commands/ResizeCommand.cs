using System.CommandLine;
using Qcow2Mount.Cli.Operations;
using Qcow2Mount.Qcow2;

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
        command.SetAction(parse =>
        {
            string path = parse.GetValue(image)!;
            string text = parse.GetValue(size)!;
            if (text.StartsWith('-'))
            {
                throw new Qcow2Exception(Qcow2ErrorCode.InvalidArgument, $"{path}: shrinking is not supported");
            }

            // Growing changes metadata only, unless zeros must hide a longer backing file: then an encrypted image
            // needs its password.
            var password = CommonOptions.ReadPassword(parse.GetValue(passwordFile));
            using var disk = Qcow2Image.Open(path, new Qcow2OpenOptions { Writable = true, MetadataOnly = true, Password = password });
            if (disk.DirtyRepair is { } repair)
            {
                parse.InvocationConfiguration.Output.WriteLine($"{path}: {repair.DirtyRepairSummary}");
            }

            bool delta = text.StartsWith('+');
            long value = SizeParser.Parse(delta ? text[1..] : text, "SIZE");
            disk.Resize(delta ? checked(disk.Length + value) : value);
            parse.InvocationConfiguration.Output.WriteLine("Image resized.");
            return ExitCodes.Success;
        });
        return command;
    }
}
