using System.CommandLine;
using Qcow2Mount.Cli.Parsing;
using Qcow2Mount.Operations;
using Qcow2Mount.Qcow2.Create;
using Qcow2Mount.Qcow2.Format;

namespace Qcow2Mount.Cli.Commands;

/// <summary>
/// <c>qcow2mount create IMAGE [SIZE] [-o key=value,...] [-b BACKING [-F FMT]]</c> with qemu-img create's option
/// names: compat, cluster_size, refcount_bits, lazy_refcounts, extended_l2, compression_type, data_file,
/// data_file_raw.
/// </summary>
internal static class CreateCommand
{
    public static Command Create()
    {
        var image = CommonOptions.Image(description: "qcow2 image file to create");
        var size = new Argument<string?>("SIZE") { Description = "Virtual size (suffixes K, M, G, T); default: the backing file's", Arity = ArgumentArity.ZeroOrOne };
        var options = new Option<string[]>("-o") { Description = "Format options, qemu-img style: key=value[,key=value...]", AllowMultipleArgumentsPerToken = false };
        var backing = new Option<string?>("-b") { Description = "Backing file (stored as given; relative names resolve against the image's folder)" };
        var backingFormat = new Option<string?>("-F") { Description = "Backing file format (qcow2 or raw)" };
        var force = new Option<bool>("--force") { Description = "Overwrite an existing file" };
        var command = new Command("create", "Create a new, empty qcow2 image") { image, size, options, backing, backingFormat, force };
        command.SetAction(async (parse, cancel) =>
        {
            var create = Parse(parse.GetValue(size), parse.GetValue(options) ?? [], parse.GetValue(backing), parse.GetValue(backingFormat), parse.GetValue(force));
            // --force replaces the image (and a data file it names), never its own backing file or a file in use.
            var created = await ImageOperations.CreateAsync(new CreateImageOptions { Image = parse.GetValue(image)!, Layout = create }, cancel);
            parse.InvocationConfiguration.Output.WriteLine($"Formatting '{created.Image}', fmt=qcow2 size={created.Size?.ToString(System.Globalization.CultureInfo.InvariantCulture) ?? "(backing)"}");
            return ExitCodes.Success;
        });
        return command;
    }

    internal static CreateOptions Parse(string? size, string[] options, string? backing, string? backingFormat, bool force)
    {
        var create = new CreateOptions
        {
            Size = size is null ? null : SizeParser.Parse(size, "SIZE"),
            BackingFile = backing,
            BackingFormat = backingFormat,
            Overwrite = force,
        };
        foreach (string pair in options.SelectMany(o => o.Split(',', StringSplitOptions.RemoveEmptyEntries)))
        {
            int eq = pair.IndexOf('=', StringComparison.Ordinal);
            string key = eq < 0 ? pair : pair[..eq];
            string value = eq < 0 ? "on" : pair[(eq + 1)..];
            create = key switch
            {
                "compat" => create with { Compat = value == "v3" ? "1.1" : value == "v2" ? "0.10" : value },
                "cluster_size" => create with { ClusterSize = (int)SizeParser.Parse(value, key) },
                "refcount_bits" => create with
                {
                    RefcountBits = int.TryParse(value, System.Globalization.NumberStyles.None, System.Globalization.CultureInfo.InvariantCulture, out int bits)
                        ? bits
                        : throw new UsageException($"refcount_bits: expected 1, 2, 4, 8, 16, 32 or 64, got '{value}'"),
                },
                "lazy_refcounts" => create with { LazyRefcounts = Bool(key, value) },
                "extended_l2" => create with { ExtendedL2 = Bool(key, value) },
                "compression_type" => create with
                {
                    CompressionType = value switch
                    {
                        "zlib" => CompressionType.Deflate,
                        "zstd" => CompressionType.Zstd,
                        _ => throw new UsageException($"compression_type: expected zlib or zstd, got '{value}'"),
                    },
                },
                "data_file" => create with { DataFile = value },
                "data_file_raw" => create with { DataFileRaw = Bool(key, value) },
                "backing_file" => create with { BackingFile = value },
                "backing_fmt" => create with { BackingFormat = value },
                _ => throw new UsageException($"-o {key}: unknown option (known: compat, cluster_size, refcount_bits, lazy_refcounts, extended_l2, compression_type, data_file, data_file_raw, backing_file, backing_fmt)"),
            };
        }

        if (create.BackingFormat is { } format && format is not ("qcow2" or "raw"))
        {
            throw new UsageException($"-F {format}: the backing format must be qcow2 or raw");
        }

        return create;
    }

    private static bool Bool(string key, string value) => value switch
    {
        "on" or "true" or "yes" => true,
        "off" or "false" or "no" => false,
        _ => throw new UsageException($"{key}: expected on or off, got '{value}'"),
    };
}
