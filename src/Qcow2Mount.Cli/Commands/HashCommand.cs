using System.CommandLine;
using System.Security.Cryptography;
using Qcow2Mount.Cli.Operations;
using Qcow2Mount.Cli.Output;
using Qcow2Mount.Qcow2;

namespace Qcow2Mount.Cli.Commands;

/// <summary>
/// <c>qcow2mount hash IMAGE</c>: digests of the guest bytes, equal to hashing <c>disk.raw</c> of a mount or the
/// output of <c>qemu-img convert -O raw</c>, without either. Opens the image read-only and, like a mount, holds
/// the reader locks while it reads: neither QEMU nor this tool's writers may change it underneath (-U: no QEMU lock).
/// </summary>
internal static class HashCommand
{
    internal sealed record Options(string Image, string? Format, string? Snapshot, string Algorithms, bool Json, bool Progress, bool ForceShare = false, string? PasswordFile = null);

    public static Command Create()
    {
        var image = CommonOptions.Image();
        var format = CommonOptions.Format();
        var snapshot = CommonOptions.Snapshot("Hash this internal snapshot (id or name) instead of the active layer");
        var algorithms = new Option<string>("-a", "--algorithm")
        {
            Description = $"Algorithms, comma-separated, computed in one pass: {string.Join(", ", ImageHasher.Algorithms.Keys)}",
            HelpName = "ALG[,ALG...]",
            DefaultValueFactory = _ => "sha256",
        };
        var json = CommonOptions.Json("Print JSON: the image, its guest size and each digest");
        var progress = new Option<bool>("-p", "--progress") { Description = "Show a progress bar even when stderr is not a terminal" };
        var forceShare = CommonOptions.ForceShare("Hash even an image that is being written, as qemu-img -U (the digest is then of no particular moment)");
        var passwordFile = CommonOptions.PasswordFile();
        var command = new Command("hash", "Hash the guest bytes (what disk.raw holds), e.g. to verify evidence")
        {
            image, format, snapshot, algorithms, json, progress, forceShare, passwordFile,
        };
        command.SetAction(parse =>
        {
            var error = parse.InvocationConfiguration.Error;
            bool showProgress = parse.GetValue(progress) || (ReferenceEquals(error, Console.Error) && !Console.IsErrorRedirected);
            return Execute(
                new Options(parse.GetValue(image)!, parse.GetValue(format), parse.GetValue(snapshot), parse.GetValue(algorithms)!,
                    parse.GetValue(json), showProgress, parse.GetValue(forceShare), parse.GetValue(passwordFile)),
                parse.InvocationConfiguration.Output, error);
        });
        return command;
    }

    internal static int Execute(Options options, TextWriter output, TextWriter error)
    {
        var names = options.Algorithms.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries)
            .Select(n => n.ToLowerInvariant()).Distinct().ToList();
        if (names.Count == 0 || !names.All(ImageHasher.Algorithms.ContainsKey))
        {
            throw new UsageException($"-a {options.Algorithms}: unknown algorithm (choose from {string.Join(", ", ImageHasher.Algorithms.Keys)})");
        }

        // A digest is of one moment: the reader locks keep writers out until it is done (-U takes none).
        using var disk = DiskReads.OpenForPass(options.Image, options.Format, options.Snapshot, options.ForceShare,
            CommonOptions.Password(options.PasswordFile, options.Image, options.Format, error));

        var bar = options.Progress ? new ProgressBar(error, disk.Length) : null;
        var digests = new ImageHasher(disk, readAhead: Math.Clamp(2 * Environment.ProcessorCount, 4, 16))
            .Hash(names.Select(n => ImageHasher.Algorithms[n]).ToList(), bar is null ? null : bar.Report);
        bar?.Finish();

        if (options.Json)
        {
            JsonOutput.Write(output, writer =>
            {
                writer.WriteStartObject();
                writer.WriteString("image", Path.GetFullPath(options.Image));
                if (options.Snapshot is not null)
                {
                    writer.WriteString("snapshot", options.Snapshot);
                }

                writer.WriteNumber("virtual-size", disk.Length);
                for (int i = 0; i < names.Count; i++)
                {
                    writer.WriteString(names[i], digests[i]);
                }

                writer.WriteEndObject();
            });
        }
        else
        {
            // One "ALGORITHM  DIGEST" line each: not sha256sum's "DIGEST  FILE", since the digest is not the file's.
            for (int i = 0; i < names.Count; i++)
            {
                output.WriteLine($"{names[i]}  {digests[i]}");
            }
        }

        return ExitCodes.Success;
    }
}
