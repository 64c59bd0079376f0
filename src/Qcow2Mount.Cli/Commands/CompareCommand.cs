using System.CommandLine;
using Qcow2Mount.Cli.Prompts;
using Qcow2Mount.Operations;

namespace Qcow2Mount.Cli.Commands;

/// <summary>
/// <c>qcow2mount compare A B [-s]</c>: <c>qemu-img compare</c>'s lines and exit codes: 0 identical, 1 different,
/// 2 an image did not open, 3 an image failed while being read. Both are read under the reader locks (-U: none).
/// </summary>
internal static class CompareCommand
{
    public const int Different = 1;
    public const int OpenFailed = 2;
    public const int ReadFailed = 3;

    internal sealed record Options(string First, string Second, string? FirstFormat, string? SecondFormat, bool Strict, bool ForceShare = false, string? PasswordFile = null);

    public static Command Create()
    {
        var first = CommonOptions.Image("IMAGE1", "First image file (qcow2 or raw)");
        var second = CommonOptions.Image("IMAGE2", "Second image file (qcow2 or raw)");
        var firstFormat = new Option<string?>("-f") { Description = "Format of IMAGE1 (qcow2 or raw); probed when omitted", HelpName = "FORMAT" }.AcceptOnlyFromAmong("qcow2", "raw");
        var secondFormat = new Option<string?>("-F") { Description = "Format of IMAGE2 (qcow2 or raw); probed when omitted", HelpName = "FORMAT" }.AcceptOnlyFromAmong("qcow2", "raw");
        var strict = new Option<bool>("-s", "--strict") { Description = "Strict mode: a size mismatch, or a range allocated in one image only, is a difference" };
        var forceShare = CommonOptions.ForceShare();
        var passwordFile = CommonOptions.PasswordFile();
        var command = new Command("compare",
            "Compare the guest bytes of two images, as qemu-img compare (exit 0 identical, 1 different, 2 error opening, 3 error reading)")
        {
            first, second, firstFormat, secondFormat, strict, forceShare, passwordFile,
        };
        command.SetAction(async (parse, cancel) => await ExecuteAsync(
            new Options(parse.GetValue(first)!, parse.GetValue(second)!, parse.GetValue(firstFormat), parse.GetValue(secondFormat),
                parse.GetValue(strict), parse.GetValue(forceShare), parse.GetValue(passwordFile)),
            parse.InvocationConfiguration.Output, parse.InvocationConfiguration.Error, cancel).ConfigureAwait(false));
        return command;
    }

    internal static async Task<int> ExecuteAsync(Options options, TextWriter output, TextWriter error, CancellationToken cancellationToken)
    {
        try
        {
            var result = await ImageOperations.CompareAsync(new CompareOptions
            {
                First = options.First,
                Second = options.Second,
                FirstFormat = CommonOptions.ParseFormat(options.FirstFormat),
                SecondFormat = CommonOptions.ParseFormat(options.SecondFormat),
                Strict = options.Strict,
                ForceShare = options.ForceShare,
                Passwords = new CliPasswords(options.PasswordFile, error),
            }, cancellationToken).ConfigureAwait(false);
            foreach (var line in result.Messages)
            {
                output.WriteLine(line);
            }

            return result.Identical ? ExitCodes.Success : Different;
        }
        catch (CompareException e)
        {
            // qemu-img compare's own codes, not the table's: scripts written for it keep working.
            error.WriteLine($"{Cli.Name}: {e.Message.ReplaceLineEndings(" ").Trim()}");
            return e.Stage == CompareStage.Opening ? OpenFailed : ReadFailed;
        }
    }
}
