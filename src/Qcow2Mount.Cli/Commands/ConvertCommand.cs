using System.CommandLine;
using Qcow2Mount.Cli.Operations;
using Qcow2Mount.Cli.Output;
using Qcow2Mount.Qcow2;
using Qcow2Mount.Qcow2.Create;

namespace Qcow2Mount.Cli.Commands;

/// <summary><c>qcow2mount convert SOURCE DEST -O raw</c>: the guest view as a sparse raw file.</summary>
internal static class ConvertCommand
{
    private const int ChunkSize = 4 << 20;

    internal sealed record Options(string Source, string Destination, string OutputFormat, string? SourceFormat,
        string? Snapshot, bool Progress, int? Workers, bool Compress = false, string[]? TargetOptions = null, string Cache = "unsafe",
        bool ForceShare = false, string? PasswordFile = null);

    /// <summary>qemu-img's cache modes. All but unsafe fsync the output; the page cache is used either way.</summary>
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
        command.SetAction(parse =>
        {
            var error = parse.InvocationConfiguration.Error;
            // Draw the bar only on a real terminal, unless asked for explicitly.
            bool showProgress = parse.GetValue(progress) || (ReferenceEquals(error, Console.Error) && !Console.IsErrorRedirected);
            return Execute(
                new Options(parse.GetValue(source)!, parse.GetValue(destination)!, parse.GetValue(outputFormat)!,
                    parse.GetValue(format), parse.GetValue(snapshot), showProgress, parse.GetValue(workers),
                    parse.GetValue(compress), parse.GetValue(targetOptions), parse.GetValue(cache)!, parse.GetValue(forceShare),
                    parse.GetValue(passwordFile)),
                error);
        });
        return command;
    }

    /// <summary>Raw output: enough workers to keep both the disk and every core busy (decompression is CPU-bound).</summary>
    private static int DefaultRawWorkers => Math.Clamp(Environment.ProcessorCount * 2, 4, 16);

    /// <summary>
    /// qcow2 output: one worker per core to read and compress; the calling thread writes. More only make the
    /// workers wait for the writer, holding 8 MiB of buffers each.
    /// </summary>
    private static int DefaultQcow2Workers => Math.Clamp(Environment.ProcessorCount, 2, 16);

    internal static int Execute(Options options, TextWriter error)
    {
        switch (options.OutputFormat)
        {
            case "raw":
                break;
            case "qcow2":
                break;
            default:
                throw new UsageException($"-O {options.OutputFormat}: unknown output format (raw, qcow2)");
        }

        if (options.OutputFormat != "qcow2" && (options.Compress || options.TargetOptions is { Length: > 0 }))
        {
            throw new UsageException("-c and -o apply to -O qcow2 only");
        }

        // Parsed before anything is opened or written: a bad option must not touch the destination.
        var create = options.OutputFormat == "qcow2" ? CreateCommand.Parse(null, options.TargetOptions ?? [], null, null, force: true) : null;
        if (create is { BackingFile: not null } or { DataFile: not null })
        {
            throw new UsageException("-o backing_file and data_file: not supported by convert");
        }

        int workers = options.Workers ?? (options.OutputFormat == "qcow2" ? DefaultQcow2Workers : DefaultRawWorkers);
        if (workers < 1)
        {
            throw new UsageException($"-m {options.Workers}: must be at least 1");
        }

        if (!CacheModes.Contains(options.Cache))
        {
            throw new UsageException($"-t {options.Cache}: invalid cache mode ({string.Join(", ", CacheModes)})");
        }

        bool flushToDisk = options.Cache != "unsafe";

        // Open the source first: a bad source must not truncate an existing destination.
        using var disk = DiskReads.OpenForPass(options.Source, options.SourceFormat, options.Snapshot, options.ForceShare,
            CommonOptions.Password(options.PasswordFile, options.Source, options.SourceFormat, error));

        // Before DEST is truncated: not the source or a file of its chain, not a pipe, not in use. Only a DEST
        // that passed is deleted when the conversion fails (its old contents are gone by then anyway).
        if (create is not null)
        {
            // Options that only the planned layout can refuse (cluster_size=1000, lazy_refcounts with compat=0.10).
            ImageCreator.Validate(options.Destination, create with { Size = disk.Length });
        }

        Destination.CheckReplaceable(options.Destination, Destination.FilesOf(disk).Append(options.Source));

        if (options.OutputFormat == "qcow2")
        {
            var bar = options.Progress ? new ProgressBar(error, disk.Length) : null;
            try
            {
                Qcow2Converter.Run(disk, options.Destination, create!, options.Compress, workers, flushToDisk,
                    bar is null ? null : bar.Report);
            }
            catch
            {
                File.Delete(options.Destination);
                throw;
            }

            bar?.Finish();
            return ExitCodes.Success;
        }

        using (var destination = File.OpenHandle(options.Destination, FileMode.Create, FileAccess.Write, FileShare.Read))
        {
            try
            {
                var converter = new RawConverter(disk, destination, ChunkSize);
                var bar = options.Progress ? new ProgressBar(error, disk.Length) : null;
                converter.Run(workers, bar is null ? null : bar.Report);
                if (flushToDisk)
                {
                    RandomAccess.FlushToDisk(destination);
                }

                bar?.Finish();
            }
            catch
            {
                // A half-written raw file looks like a valid disk; do not leave one behind.
                destination.Dispose();
                File.Delete(options.Destination);
                throw;
            }
        }

        return ExitCodes.Success;
    }
}
