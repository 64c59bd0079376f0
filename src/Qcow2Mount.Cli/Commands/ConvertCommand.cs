using System.CommandLine;
using Qcow2Mount.Cli.Output;
using Qcow2Mount.Cli.Prompts;
using Qcow2Mount.Operations;

namespace Qcow2Mount.Cli.Commands;

/// <summary><c>qcow2mount convert SOURCE DEST -O raw</c>: the guest view as a sparse raw file (<see cref="ImageOperations.ConvertAsync"/>).</summary>
internal static class ConvertCommand
{
    internal sealed record Options(string Source, string Destination, string OutputFormat, string? SourceFormat,
        string? Snapshot, bool Progress, int? Workers, bool Compress = false, string[]? TargetOptions = null, string Cache = "unsafe",
        bool ForceShare = false, string? PasswordFile = null);

    /// <summary>qemu-img's cache modes, in the order of <see cref="OutputCacheMode"/>. All but unsafe fsync the output; the page cache is used either way.</summary>
    private static readonly string[] CacheModes = ["unsafe", "writeback", "writethrough", "none", "directsync"];

    public static Command Create()
    {
        var source = CommonOptions.Image("SOURCE", "Image to read (qcow2 or raw)");
        var destination = new Argument<string>("DEST") { Description = "Raw file to write (replaced if it exists)" };
        var outputFormat = new Option<string>("-O", "--output-format")
        {
            Description = "Output format: raw or qcow2 (qcow2: zero clusters stay unallocated)",
            HelpName = "FORMAT",
            DefaultValueFactory = _ => "raw",
        };
        var format = CommonOptions.Format();
        var snapshot = CommonOptions.Snapshot("Convert this internal snapshot (id or name) instead of the active layer");
        var progress = new Option<bool>("-p", "--progress") { Description = "Show a progress bar even when stderr is not a terminal" };
        var workers = new Option<int?>("-m", "--parallel")
        {
            Description = "Chunks read (and compressed) in parallel (default: 2 per core, 4..16, for raw output; 1 per core, at least 2, for qcow2)",
            HelpName = "N",
        };
        var compress = new Option<bool>("-c", "--compress") { Description = "qcow2 output: store data clusters compressed (zlib, or -o compression_type=zstd)" };
        var cache = new Option<string>("-t", "--cache")
        {
            Description = "Output cache mode, as qemu-img's: unsafe (the default, as in qemu-img convert) never waits for the disk; " +
                "the others (writeback, ...) fsync the output before exiting",
            HelpName = "CACHE",
            DefaultValueFactory = _ => "unsafe",
        };
        var targetOptions = new Option<string[]>("-o")
        {
            Description = "qcow2 output: format options as for create (cluster_size, compat, compression_type, ...)",
            AllowMultipleArgumentsPerToken = false,
        };
        var forceShare = CommonOptions.ForceShare();
        var passwordFile = CommonOptions.PasswordFile();
        var command = new Command("convert", "Write the guest bytes of an image to a raw file (sparse where zero) or a new qcow2 image")
        {
            source, destination, outputFormat, format, snapshot, progress, workers, compress, targetOptions, cache, forceShare, passwordFile,
        };
        command.SetAction(async (parse, cancel) =>
        {
            var error = parse.InvocationConfiguration.Error;
            return await ExecuteAsync(
                new Options(parse.GetValue(source)!, parse.GetValue(destination)!, parse.GetValue(outputFormat)!,
                    parse.GetValue(format), parse.GetValue(snapshot), parse.GetValue(progress), parse.GetValue(workers),
                    parse.GetValue(compress), parse.GetValue(targetOptions), parse.GetValue(cache)!, parse.GetValue(forceShare),
                    parse.GetValue(passwordFile)),
                error, cancel);
        });
        return command;
    }

    internal static async Task<int> ExecuteAsync(Options options, TextWriter error, CancellationToken cancellationToken)
    {
        var outputFormat = options.OutputFormat switch
        {
            "raw" => ImageFormat.Raw,
            "qcow2" => ImageFormat.Qcow2,
            _ => throw new UsageException($"-O {options.OutputFormat}: unknown output format (raw, qcow2)"),
        };
        if (outputFormat != ImageFormat.Qcow2 && (options.Compress || options.TargetOptions is { Length: > 0 }))
        {
            throw new UsageException("-c and -o apply to -O qcow2 only");
        }

        var layout = outputFormat == ImageFormat.Qcow2 ? CreateCommand.Parse(null, options.TargetOptions ?? [], null, null, force: true) : null;
        var cache = Array.IndexOf(CacheModes, options.Cache) is >= 0 and var index
            ? (OutputCacheMode)index
            : throw new UsageException($"-t {options.Cache}: invalid cache mode ({string.Join(", ", CacheModes)})");

        var bar = ProgressBar.For(error, options.Progress);
        await ImageOperations.ConvertAsync(new ConvertOptions
        {
            Source = options.Source,
            Destination = options.Destination,
            OutputFormat = outputFormat,
            SourceFormat = CommonOptions.ParseFormat(options.SourceFormat),
            Snapshot = options.Snapshot,
            Workers = options.Workers,
            Compress = options.Compress,
            Qcow2Layout = layout,
            Cache = cache,
            ForceShare = options.ForceShare,
            Passwords = new CliPasswords(options.PasswordFile, error),
        }, bar, cancellationToken).ConfigureAwait(false);
        bar?.Finish();
        return ExitCodes.Success;
    }
}
