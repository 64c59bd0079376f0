using System.CommandLine;
using Qcow2Mount.Cli.Output;
using Qcow2Mount.Cli.Prompts;
using Qcow2Mount.Operations;

namespace Qcow2Mount.Cli.Commands;

/// <summary>
/// <c>qcow2mount hash IMAGE</c>: digests of the guest bytes, equal to hashing <c>disk.raw</c> of a mount or the
/// output of <c>qemu-img convert -O raw</c>, without either. Opens the image read-only and, like a mount, holds
/// the reader locks while it reads: neither QEMU nor this tool's writers may change it underneath (-U: no QEMU lock).
/// </summary>
internal static class HashCommand
{
    internal sealed record Options(string Image, string? Format, string? Snapshot, string Algorithms, bool Json, bool Progress, bool ForceShare = false, string? PasswordFile = null, string? Verify = null);

    public static Command Create()
    {
        var image = CommonOptions.Image();
        var format = CommonOptions.Format();
        var snapshot = CommonOptions.Snapshot("Hash this internal snapshot (id or name) instead of the active layer");
        var algorithms = new Option<string>("-a", "--algorithm")
        {
            Description = $"Algorithms, comma-separated, computed in one pass: {string.Join(", ", AlgorithmNames)}",
            HelpName = "ALG[,ALG...]",
            DefaultValueFactory = _ => "sha256",
        };
        var json = CommonOptions.Json("Print JSON: the image, its guest size and each digest");
        var progress = new Option<bool>("-p", "--progress") { Description = "Show a progress bar even when stderr is not a terminal" };
        var forceShare = CommonOptions.ForceShare("Hash even an image that is being written, as qemu-img -U (the digest is then of no particular moment)");
        var passwordFile = CommonOptions.PasswordFile();
        var verify = new Option<string?>("--verify")
        {
            Description = $"Check the digests recorded in FILE (hash --json output, or sha256sum lines naming the image or disk.raw); exit {ExitCodes.DigestMismatch} on a mismatch",
            HelpName = "FILE",
        };
        var command = new Command("hash", "Hash the guest bytes (what disk.raw holds), e.g. to verify evidence")
        {
            image, format, snapshot, algorithms, json, progress, forceShare, passwordFile, verify,
        };
        command.SetAction(async (parse, cancel) =>
        {
            var error = parse.InvocationConfiguration.Error;
            return await ExecuteAsync(
                new Options(parse.GetValue(image)!, parse.GetValue(format), parse.GetValue(snapshot), parse.GetValue(algorithms)!,
                    parse.GetValue(json), parse.GetValue(progress), parse.GetValue(forceShare), parse.GetValue(passwordFile), parse.GetValue(verify)),
                parse.InvocationConfiguration.Output, error, cancel);
        });
        return command;
    }

    /// <summary>The algorithms by the names -a takes.</summary>
    private static readonly string[] AlgorithmNames = [.. Enum.GetValues<DigestAlgorithm>().Select(Name)];

    private static string Name(DigestAlgorithm algorithm) => algorithm.ToString().ToLowerInvariant();

    internal static async Task<int> ExecuteAsync(Options options, TextWriter output, TextWriter error, CancellationToken cancellationToken)
    {
        if (options.Verify is not null)
        {
            return await VerifyAsync(options, output, error, cancellationToken).ConfigureAwait(false);
        }

        var names = options.Algorithms.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries)
            .Select(n => n.ToLowerInvariant()).Distinct().ToList();
        if (names.Count == 0 || !names.All(AlgorithmNames.Contains))
        {
            throw new UsageException($"-a {options.Algorithms}: unknown algorithm (choose from {string.Join(", ", AlgorithmNames)})");
        }

        var bar = ProgressBar.For(error, options.Progress);
        var result = await ImageOperations.HashAsync(new HashOptions
        {
            Image = options.Image,
            Format = CommonOptions.ParseFormat(options.Format),
            Snapshot = options.Snapshot,
            Algorithms = [.. names.Select(n => (DigestAlgorithm)Array.IndexOf(AlgorithmNames, n))],
            ForceShare = options.ForceShare,
            Passwords = new CliPasswords(options.PasswordFile, error),
        }, bar, cancellationToken).ConfigureAwait(false);
        bar?.Finish();

        if (options.Json)
        {
            JsonOutput.Write(output, writer =>
            {
                writer.WriteStartObject();
                writer.WriteString("image", result.Image);
                if (result.Snapshot is not null)
                {
                    writer.WriteString("snapshot", result.Snapshot);
                }

                writer.WriteNumber("virtual-size", result.VirtualSize);
                foreach (var digest in result.Digests)
                {
                    writer.WriteString(Name(digest.Algorithm), digest.Hex);
                }

                writer.WriteEndObject();
            });
        }
        else
        {
            // One "ALGORITHM  DIGEST" line each: not sha256sum's "DIGEST  FILE", since the digest is not the file's.
            foreach (var digest in result.Digests)
            {
                output.WriteLine($"{Name(digest.Algorithm)}  {digest.Hex}");
            }
        }

        return ExitCodes.Success;
    }

    /// <summary>hash --verify: one line per recorded digest, then the exit code says whether all matched.</summary>
    private static async Task<int> VerifyAsync(Options options, TextWriter output, TextWriter error, CancellationToken cancellationToken)
    {
        var bar = ProgressBar.For(error, options.Progress);
        var result = await ImageOperations.VerifyHashAsync(new VerifyHashOptions
        {
            Image = options.Image,
            RecordFile = options.Verify!,
            Format = CommonOptions.ParseFormat(options.Format),
            Snapshot = options.Snapshot,
            ForceShare = options.ForceShare,
            Passwords = new CliPasswords(options.PasswordFile, error),
        }, bar, cancellationToken).ConfigureAwait(false);
        bar?.Finish();

        foreach (var check in result.Checks)
        {
            output.WriteLine(check.Matches
                ? $"{Name(check.Algorithm)}  OK        {check.Actual}"
                : $"{Name(check.Algorithm)}  MISMATCH  recorded {check.Expected}, computed {check.Actual}");
        }

        if (!result.AllMatch)
        {
            error.WriteLine($"{Cli.Name}: {result.Image}{(result.Snapshot is null ? "" : $" (snapshot {result.Snapshot})")}: the guest bytes do not match the recorded digests");
            return ExitCodes.DigestMismatch;
        }

        return ExitCodes.Success;
    }
}
