using System.CommandLine;
using System.Globalization;
using System.Text.Json;
using Qcow2Mount.Cli.Output;
using Qcow2Mount.Cli.Prompts;
using Qcow2Mount.Mounting.Partitions;
using Qcow2Mount.Operations;

namespace Qcow2Mount.Cli.Commands;

/// <summary>
/// <c>qcow2mount report IMAGE</c>: one record of the evidence (chain files with their host sha256 and mtime, guest
/// disk, snapshots, partitions and file systems, optionally the digests of every view). Reads only, under the
/// locks <c>info</c> takes (-U: none). The JSON schema is in docs/forensics.md.
/// </summary>
internal static class ReportCommand
{
    internal sealed record Options(string Image, string? Format, bool Json, string? Hash, bool Progress, bool ForceShare = false, string? PasswordFile = null);

    private static readonly string[] AlgorithmNames = [.. Enum.GetValues<DigestAlgorithm>().Select(Name)];

    private static string Name(DigestAlgorithm algorithm) => algorithm.ToString().ToLowerInvariant();

    public static Command Create()
    {
        var image = CommonOptions.Image();
        var format = CommonOptions.Format();
        var json = CommonOptions.Json("Print JSON (schema: docs/forensics.md, \"report --json\")");
        var hash = new Option<string?>("--hash")
        {
            Description = $"Also hash the guest view and every snapshot view with these algorithms (comma-separated: {string.Join(", ", AlgorithmNames)})",
            HelpName = "ALG[,ALG...]",
        };
        var progress = new Option<bool>("-p", "--progress") { Description = "Show a progress bar for --hash even when stderr is not a terminal" };
        var forceShare = CommonOptions.ForceShare("Report even on an image that is being written, as info -U (the record is then of no particular moment)");
        var passwordFile = CommonOptions.PasswordFile();
        var command = new Command("report", "One record of the evidence: chain files (sha256, mtime, format facts), snapshots, partitions and file systems, digests")
        {
            image, format, json, hash, progress, forceShare, passwordFile,
        };
        command.SetAction(async (parse, cancel) => await ExecuteAsync(
            new Options(parse.GetValue(image)!, parse.GetValue(format), parse.GetValue(json), parse.GetValue(hash), parse.GetValue(progress),
                parse.GetValue(forceShare), parse.GetValue(passwordFile)),
            parse.InvocationConfiguration.Output, parse.InvocationConfiguration.Error, cancel).ConfigureAwait(false));
        return command;
    }

    internal static async Task<int> ExecuteAsync(Options options, TextWriter output, TextWriter error, CancellationToken cancellationToken)
    {
        var names = (options.Hash ?? string.Empty).Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries)
            .Select(n => n.ToLowerInvariant()).Distinct().ToList();
        if ((options.Hash is not null && names.Count == 0) || !names.All(AlgorithmNames.Contains))
        {
            throw new UsageException($"--hash {options.Hash}: unknown algorithm (choose from {string.Join(", ", AlgorithmNames)})");
        }

        var bar = names.Count > 0 ? ProgressBar.For(error, options.Progress) : null;
        var report = await ImageOperations.ReportAsync(new ReportOptions
        {
            Image = options.Image,
            Format = CommonOptions.ParseFormat(options.Format),
            Algorithms = [.. names.Select(n => (DigestAlgorithm)Array.IndexOf(AlgorithmNames, n))],
            ForceShare = options.ForceShare,
            Passwords = new CliPasswords(options.PasswordFile, error),
        }, bar, cancellationToken).ConfigureAwait(false);
        bar?.Finish();

        if (options.Json)
        {
            JsonOutput.Write(output, writer => WriteJson(writer, report));
        }
        else
        {
            WriteText(output, report);
        }

        return ExitCodes.Success;
    }

    private static string Time(DateTimeOffset time) => time.UtcDateTime.ToString("yyyy-MM-dd'T'HH:mm:ss.fffffff'Z'", CultureInfo.InvariantCulture);

    private static string Scheme(PartitionScheme scheme) => scheme.ToString().ToLowerInvariant();

    private static void WriteJson(Utf8JsonWriter json, EvidenceReport report)
    {
        json.WriteStartObject();
        json.WriteString("image", report.Image);
        json.WriteString("created", Time(report.Created));
        json.WriteStartArray("files");
        foreach (var file in report.Files)
        {
            var d = file.Description;
            json.WriteStartObject();
            json.WriteNumber("depth", file.Depth);
            json.WriteString("path", file.Path);
            json.WriteNumber("size", file.Size);
            json.WriteString("modified", Time(file.Modified));
            json.WriteString("sha256", file.Sha256);
            json.WriteString("format", d.Format);
            json.WriteBoolean("dirty", d.DirtyFlag);
            json.WriteBoolean("corrupt", d.Qcow2?.Corrupt ?? false);
            if (d.Qcow2?.Encrypt is { } encrypt)
            {
                json.WriteString("encryption", encrypt.Format);
            }
            else
            {
                json.WriteNull("encryption");
            }

            json.WritePropertyName("info");
            InfoJson.WriteImage(json, d);
            json.WriteEndObject();
        }

        json.WriteEndArray();
        json.WriteStartObject("disk");
        json.WriteNumber("virtual-size", report.VirtualSize);
        json.WriteStartArray("layers");
        foreach (var layer in report.Layers)
        {
            json.WriteStartObject();
            json.WriteNumber("depth", layer.Depth);
            json.WriteString("path", layer.Path);
            json.WriteNumber("allocated-bytes", layer.AllocatedBytes);
            json.WriteEndObject();
        }

        json.WriteEndArray();
        json.WriteEndObject();
        json.WriteStartArray("snapshots");
        foreach (var snapshot in report.Snapshots)
        {
            SnapshotListing.WriteJson(json, snapshot);
        }

        json.WriteEndArray();
        var table = report.Partitions;
        json.WriteStartObject("partition-table");
        json.WriteString("scheme", Scheme(table.Scheme));
        json.WriteNumber("sector-size", table.SectorSize);
        if (table.DiskGuid is { } guid)
        {
            json.WriteString("disk-guid", guid.ToString());
        }

        if (table.DiskSignature is { } signature)
        {
            json.WriteString("disk-signature", $"0x{signature:x8}");
        }

        json.WriteStartArray("notes");
        foreach (var note in table.Notes)
        {
            json.WriteStringValue(note);
        }

        json.WriteEndArray();
        json.WriteStartArray("volumes");
        foreach (var volume in table.Volumes)
        {
            json.WriteStartObject();
            if (volume.Partition is { } p)
            {
                json.WriteNumber("number", p.Number);
                json.WriteString("file", p.FileName);
                json.WriteString("role", p.Role.ToString().ToLowerInvariant());
                json.WriteNumber("start", p.Offset);
                json.WriteNumber("length", p.Length);
                json.WriteString("type", p.MbrType is { } mbr ? $"0x{mbr:x2}" : p.GptType?.ToString());
                json.WriteString("type-name", p.TypeName);
                if (p.GptId is { } id)
                {
                    json.WriteString("gpt-id", id.ToString());
                    json.WriteString("name", p.Name);
                }

                json.WriteBoolean("bootable", p.Bootable);
            }
            else
            {
                // No table: the whole disk is the one volume.
                json.WriteNull("number");
                json.WriteString("file", "disk.raw");
                json.WriteNumber("start", 0);
                json.WriteNumber("length", report.VirtualSize);
            }

            if (volume.FileSystem is { } fs)
            {
                json.WriteStartObject("file-system");
                json.WriteString("type", fs.TypeName);
                json.WriteString("description", fs.Description);
                json.WriteString("label", fs.Label);
                json.WriteString("uuid", fs.Uuid);
                json.WriteEndObject();
            }
            else
            {
                json.WriteNull("file-system");
            }

            json.WriteEndObject();
        }

        json.WriteEndArray();
        json.WriteEndObject();
        json.WriteStartArray("digests");
        foreach (var view in report.Digests)
        {
            json.WriteStartObject();
            json.WriteString("view", view.Snapshot ?? "active");
            json.WriteNumber("virtual-size", view.VirtualSize);
            foreach (var digest in view.Digests)
            {
                json.WriteString(Name(digest.Algorithm), digest.Hex);
            }

            json.WriteEndObject();
        }

        json.WriteEndArray();
        json.WriteEndObject();
    }

    private static void WriteText(TextWriter output, EvidenceReport report)
    {
        var inv = CultureInfo.InvariantCulture;
        output.WriteLine($"Image:        {report.Image}");
        output.WriteLine($"Report made:  {Time(report.Created)}");
        output.WriteLine();
        output.WriteLine("Files of the chain:");
        foreach (var file in report.Files)
        {
            var d = file.Description;
            var flags = new List<string> { d.Format };
            if (d.Qcow2 is { } q)
            {
                flags.Add($"v{(q.Compat == "0.10" ? 2 : 3)}");
            }

            if (d.ClusterSize is { } cluster)
            {
                flags.Add($"cluster {HumanSize.Format(cluster)}");
            }

            flags.Add(d.DirtyFlag ? "DIRTY" : "clean");
            if (d.Qcow2?.Corrupt == true)
            {
                flags.Add("CORRUPT");
            }

            if (d.Qcow2?.Encrypt is { } encrypt)
            {
                flags.Add($"encrypted ({encrypt.Format})");
            }

            output.WriteLine(string.Create(inv, $"  [{file.Depth}] {file.Path}"));
            output.WriteLine(string.Create(inv, $"      size {file.Size} ({HumanSize.Format(file.Size)}), modified {Time(file.Modified)}"));
            output.WriteLine($"      sha256 {file.Sha256}");
            output.WriteLine($"      {string.Join(", ", flags)}");
        }

        output.WriteLine();
        output.WriteLine(string.Create(inv, $"Guest disk:   {report.VirtualSize} bytes ({HumanSize.Format(report.VirtualSize)})"));
        foreach (var layer in report.Layers)
        {
            output.WriteLine(string.Create(inv, $"  layer {layer.Depth}: {layer.AllocatedBytes} bytes allocated ({HumanSize.Format(layer.AllocatedBytes)}) in {Path.GetFileName(layer.Path)}"));
        }

        output.WriteLine();
        if (report.Snapshots.Count == 0)
        {
            output.WriteLine("Snapshots:    none");
        }
        else
        {
            SnapshotListing.WriteText(report.Snapshots, output);
        }

        output.WriteLine();
        var table = report.Partitions;
        output.WriteLine(table.Scheme == PartitionScheme.None
            ? "Partitions:   none"
            : string.Create(inv, $"Partitions:   {table.Scheme.ToString().ToUpperInvariant()}, {table.Volumes.Count} data partition(s)"));
        foreach (var note in table.Notes)
        {
            output.WriteLine($"  note: {note}");
        }

        foreach (var volume in table.Volumes)
        {
            string where = volume.Partition is { } p
                ? string.Create(inv, $"{p.FileName,-8} start {p.Offset,-12} length {p.Length,-12} {p.TypeName}")
                : string.Create(inv, $"{"disk.raw",-8} start {0,-12} length {report.VirtualSize,-12} (whole disk)");
            string fs = volume.FileSystem is { } f
                ? f.Description + (f.Label is { Length: > 0 } label ? $" label \"{label}\"" : "") + (f.Uuid is { } uuid ? $" uuid {uuid}" : "")
                : "no file system recognized";
            output.WriteLine($"  {where}  {fs}");
        }

        if (report.Digests.Count > 0)
        {
            output.WriteLine();
            output.WriteLine("Digests of the guest bytes:");
            foreach (var view in report.Digests)
            {
                foreach (var digest in view.Digests)
                {
                    output.WriteLine($"  {view.Snapshot ?? "active",-16} {Name(digest.Algorithm),-7} {digest.Hex}");
                }
            }
        }
    }
}
