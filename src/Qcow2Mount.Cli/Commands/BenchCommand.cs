using System.CommandLine;
using System.Globalization;
using Qcow2Mount.Cli.Parsing;
using Qcow2Mount.Cli.Prompts;
using Qcow2Mount.Operations;

namespace Qcow2Mount.Cli.Commands;

/// <summary>
/// <c>qcow2mount bench IMAGE</c>: <c>qemu-img bench</c>'s read test with the same options and meaning, run
/// against this engine.
/// </summary>
internal static class BenchCommand
{
    internal sealed record Options(
        string Image, string? Format, long Count, int Depth, string Offset, string BufferSize, string? StepSize,
        bool Random, bool Quiet, string? Cache, string? Aio, bool Write, string? Pattern, long? FlushInterval,
        bool NoDrain, bool NoLock, string? PasswordFile = null);

    private static readonly string[] CacheModes = ["none", "off", "writeback", "writethrough", "directsync", "unsafe"];
    private static readonly string[] AioModes = ["threads", "native", "io_uring"];

    public static Command Create()
    {
        var image = CommonOptions.Image();
        var format = CommonOptions.Format();
        var count = new Option<long>("-c", "--count") { Description = "Number of requests (default 75000)", HelpName = "COUNT", DefaultValueFactory = _ => 75000 };
        var depth = new Option<int>("-d", "--depth") { Description = "Requests in flight at once (default 64)", HelpName = "DEPTH", DefaultValueFactory = _ => 64 };
        var offset = new Option<string>("-o", "--offset") { Description = "Offset of the first request (default 0)", HelpName = "OFFSET", DefaultValueFactory = _ => "0" };
        var bufferSize = new Option<string>("-s", "--buffer-size") { Description = "Bytes per request; k, M, G suffixes (default 4K)", HelpName = "BUFFER_SIZE", DefaultValueFactory = _ => "4K" };
        var stepSize = new Option<string?>("-S", "--step-size") { Description = "Distance between requests (default: the buffer size)", HelpName = "STEP_SIZE" };
        var random = new Option<bool>("--random") { Description = "Random offsets aligned to the buffer size, instead of stepping" };
        var quiet = new Option<bool>("-q", "--quiet") { Description = "Print only qemu-img's two lines, not the rates" };
        var cache = new Option<string?>("-t", "--cache")
        {
            Description = "Cache mode, accepted for compatibility: none/directsync would bypass the host page cache in QEMU, " +
                "but this engine always reads through it; writeback (default), writethrough and unsafe differ only for writes",
            HelpName = "CACHE",
        };
        var aio = new Option<string?>("-i", "--aio") { Description = "AIO backend (threads, native, io_uring): accepted, no effect; requests run on threads", HelpName = "AIO" };
        var native = new Option<bool>("-n", "--native") { Description = "Native AIO: accepted, no effect" };
        var write = new Option<bool>("-w", "--write") { Description = "Write test: writes the --pattern byte at the same offsets a read test reads" };
        var pattern = new Option<string?>("--pattern") { Description = "Byte written by write tests (default 0)", HelpName = "PATTERN" };
        var flushInterval = new Option<long?>("--flush-interval") { Description = "Flush after every FLUSH_INTERVAL requests (write tests only)", HelpName = "FLUSH_INTERVAL" };
        var noDrain = new Option<bool>("--no-drain") { Description = "Do not wait for requests in flight before each flush (with --flush-interval)" };
        var forceShare = CommonOptions.ForceShare("Do not lock the image (qemu-img -U): read an image QEMU is writing, or write one another program has open");
        var passwordFile = CommonOptions.PasswordFile();
        var command = new Command("bench", "Measure read or write throughput like 'qemu-img bench' (MB = 1,000,000 bytes)")
        {
            image, format, count, depth, offset, bufferSize, stepSize, random, quiet, cache, aio, native, write,
            pattern, flushInterval, noDrain, forceShare, passwordFile,
        };
        command.SetAction(async (parse, cancel) => await ExecuteAsync(
            new Options(parse.GetValue(image)!, parse.GetValue(format), parse.GetValue(count), parse.GetValue(depth),
                parse.GetValue(offset)!, parse.GetValue(bufferSize)!, parse.GetValue(stepSize), parse.GetValue(random),
                parse.GetValue(quiet), parse.GetValue(cache), parse.GetValue(aio), parse.GetValue(write), parse.GetValue(pattern),
                parse.GetValue(flushInterval), parse.GetValue(noDrain), parse.GetValue(forceShare), parse.GetValue(passwordFile)),
            parse.InvocationConfiguration.Output, parse.InvocationConfiguration.Error, cancel));
        return command;
    }

    internal static async Task<int> ExecuteAsync(Options options, TextWriter output, TextWriter error, CancellationToken cancellationToken)
    {
        var bench = ToBenchOptions(options) with
        {
            // From --password-file only: a benchmark never stops to ask.
            Passwords = new CliPasswords(options.PasswordFile, error, mayPrompt: false),
        };
        var result = await ImageOperations.BenchAsync(bench, cancellationToken).ConfigureAwait(false);

        // Printed once the run is over, in qemu-img's order: what was sent, then how long it took.
        if (!options.Quiet && options.Cache is "none" or "off" or "directsync")
        {
            output.WriteLine($"Note: cache mode '{options.Cache}' does not bypass the host page cache here; reads go through it.");
        }

        string kind = bench.Write ? "write" : "read";
        long step = bench.StepSize is null or 0 ? bench.BufferSize : bench.StepSize.Value;
        output.WriteLine(bench.Random
            ? $"Sending {bench.Count} {kind} requests, {bench.BufferSize} bytes each, {bench.Depth} in parallel (random offsets, aligned to {Math.Max(bench.BufferSize, 512)})"
            : $"Sending {bench.Count} {kind} requests, {bench.BufferSize} bytes each, {bench.Depth} in parallel (starting at offset {bench.Offset}, step size {step})");
        if (bench.Write && bench.FlushInterval is > 0 and var interval)
        {
            output.WriteLine($"Sending flush every {interval} requests");
        }

        output.WriteLine(string.Create(CultureInfo.InvariantCulture, $"Run completed in {result.Elapsed.TotalSeconds:F3} seconds."));
        if (!options.Quiet)
        {
            output.WriteLine(string.Create(CultureInfo.InvariantCulture,
                $"{result.RequestsPerSecond:F0} requests/s, {result.MegabytesPerSecond:F1} MB/s"));
        }

        return ExitCodes.Success;
    }

    /// <summary>
    /// Parses what only the command line spells (sizes with suffixes, the pattern, qemu-img's cache and aio names);
    /// the core checks how the values fit together.
    /// </summary>
    private static BenchOptions ToBenchOptions(Options options)
    {
        if (options.Cache is { } cache && !CacheModes.Contains(cache))
        {
            throw new UsageException($"-t {cache}: invalid cache mode ({string.Join(", ", CacheModes)})");
        }

        if (options.Aio is { } aio && !AioModes.Contains(aio))
        {
            throw new UsageException($"-i {aio}: invalid aio option ({string.Join(", ", AioModes)})");
        }

        byte pattern = options.Pattern is null ? (byte)0
            : byte.TryParse(options.Pattern, NumberStyles.None, CultureInfo.InvariantCulture, out byte value) ? value
            : throw new UsageException($"--pattern {options.Pattern}: invalid pattern byte (0..255)");

        long bufferSize = SizeParser.Parse(options.BufferSize, "-s");
        if (bufferSize > Array.MaxLength)
        {
            throw new UsageException($"-s {options.BufferSize}: buffer size is too large");
        }

        return new BenchOptions
        {
            Image = options.Image,
            Format = CommonOptions.ParseFormat(options.Format),
            Count = options.Count,
            Depth = options.Depth,
            Offset = SizeParser.Parse(options.Offset, "-o"),
            BufferSize = (int)bufferSize,
            StepSize = options.StepSize is null ? null : SizeParser.Parse(options.StepSize, "-S"),
            Random = options.Random,
            Write = options.Write,
            Pattern = pattern,
            FlushInterval = options.FlushInterval,
            Drain = !options.NoDrain,
            ForceShare = options.NoLock,
        };
    }
}
