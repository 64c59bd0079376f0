using System.Globalization;
using System.Text.Json;

namespace Qcow2Mount.TestSupport;

/// <summary>Makes guest disks with the real tools (sfdisk, sgdisk, mkfs.*) and reads their view back as oracles.</summary>
public static class GuestDiskTools
{
    /// <summary>A sparse file of <paramref name="bytes"/> bytes.</summary>
    public static void CreateSparse(string path, long bytes)
    {
        using var file = File.OpenHandle(path, FileMode.CreateNew, FileAccess.ReadWrite);
        RandomAccess.SetLength(file, bytes);
    }

    /// <summary>
    /// Makes a file system image of <paramref name="sectors"/> 512-byte sectors at <paramref name="scratch"/> with
    /// <paramref name="make"/> (mkfs run on the file), and writes it into <paramref name="disk"/> at
    /// <paramref name="startSector"/>; returns its bytes.
    /// </summary>
    public static byte[] Place(string disk, string scratch, long startSector, long sectors, Action<string> make)
    {
        ArgumentNullException.ThrowIfNull(make);
        CreateSparse(scratch, sectors * 512);
        make(scratch);
        byte[] bytes = File.ReadAllBytes(scratch);
        using (var handle = File.OpenHandle(disk, FileMode.Open, FileAccess.ReadWrite))
        {
            RandomAccess.Write(handle, bytes, startSector * 512);
        }

        return bytes;
    }

    /// <summary>Runs sfdisk with <paramref name="script"/> on its standard input (bash pipes it in; paths are arguments, not code).</summary>
    public static void Sfdisk(string disk, string script)
    {
        string sfdisk = ExternalTool.RequireTool("sfdisk");
        ExternalTool.RequireTool("bash");
        ExternalTool.Run("bash", ["-c", "printf '%s' \"$2\" | \"$0\" --no-reread --no-tell-kernel \"$1\"", sfdisk, disk, script]).EnsureSuccess();
    }

    /// <summary>sfdisk's own reading of the table: (number, start sector, sectors, type) per partition.</summary>
    public static IReadOnlyList<(int Number, long Start, long Size, string Type, string? Uuid, string? Name)> SfdiskPartitions(string disk)
    {
        ArgumentNullException.ThrowIfNull(disk);
        string sfdisk = ExternalTool.RequireTool("sfdisk");
        string json = ExternalTool.Run(sfdisk, ["--json", disk]).EnsureSuccess().StandardOutput;
        using var document = JsonDocument.Parse(json);
        var result = new List<(int, long, long, string, string?, string?)>();
        foreach (var partition in document.RootElement.GetProperty("partitiontable").GetProperty("partitions").EnumerateArray())
        {
            string node = partition.GetProperty("node").GetString()!;
            int number = int.Parse(node[disk.Length..], CultureInfo.InvariantCulture);
            result.Add((number, partition.GetProperty("start").GetInt64(), partition.GetProperty("size").GetInt64(),
                partition.GetProperty("type").GetString()!,
                partition.TryGetProperty("uuid", out var uuid) ? uuid.GetString() : null,
                partition.TryGetProperty("name", out var name) ? name.GetString() : null));
        }

        return result;
    }

    /// <summary>blkid's low-level probe of a file: TYPE, LABEL, UUID... (empty when it finds nothing).</summary>
    public static Dictionary<string, string> Blkid(string file)
    {
        string blkid = ExternalTool.RequireTool("blkid");
        var result = ExternalTool.Run(blkid, ["-p", "-o", "export", file]);
        var values = new Dictionary<string, string>(StringComparer.Ordinal);
        foreach (string line in result.StandardOutput.Split('\n', StringSplitOptions.RemoveEmptyEntries))
        {
            int equals = line.IndexOf('=', StringComparison.Ordinal);
            if (equals > 0)
            {
                values[line[..equals]] = line[(equals + 1)..];
            }
        }

        return values;
    }
}
