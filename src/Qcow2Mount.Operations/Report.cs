using System.Security.Cryptography;
using Qcow2Mount.Mounting.Inspection;
using Qcow2Mount.Mounting.Partitions;
using Qcow2Mount.Qcow2.Mapping;
using Qcow2Mount.Qcow2.Snapshots;

namespace Qcow2Mount.Operations;

/// <summary>What <see cref="ImageOperations.ReportAsync"/> records.</summary>
public sealed record ReportOptions
{
    public required string Image { get; init; }

    /// <summary>The image's format; null probes it.</summary>
    public ImageFormat? Format { get; init; }

    /// <summary>Digests of the guest view and of each snapshot view; empty: none (the report then reads metadata only).</summary>
    public IReadOnlyList<DigestAlgorithm> Algorithms { get; init; } = [];

    /// <summary>Take no lock (qemu-img -U), as <c>info</c>.</summary>
    public bool ForceShare { get; init; }

    public IPasswordProvider? Passwords { get; init; }
}

/// <summary>One file of the backing chain as it lies on the host, with its format facts.</summary>
public sealed record ReportFile(
    int Depth,
    string Path,
    long Size,
    DateTimeOffset Modified,
    string Sha256,
    ImageDescription Description);

/// <summary>Guest bytes each layer of the chain provides (allocated there: data or zeros).</summary>
public sealed record ReportLayer(int Depth, string Path, long AllocatedBytes);

/// <summary>One partition and the file system its signature names (null: none recognized).</summary>
public sealed record ReportVolume(Partition? Partition, FileSystemSignature? FileSystem);

/// <summary>The partition table: scheme, notes on what was odd about it, and each data volume.</summary>
public sealed record ReportPartitions(PartitionScheme Scheme, int SectorSize, Guid? DiskGuid, uint? DiskSignature, IReadOnlyList<string> Notes, IReadOnlyList<ReportVolume> Volumes);

/// <summary>The digests of one view: the active disk (null snapshot) or an internal snapshot.</summary>
public sealed record ReportDigests(string? Snapshot, long VirtualSize, IReadOnlyList<ImageDigest> Digests);

/// <summary>One record of the evidence (<see cref="ImageOperations.ReportAsync"/>).</summary>
public sealed record EvidenceReport(
    string Image,
    DateTimeOffset Created,
    IReadOnlyList<ReportFile> Files,
    long VirtualSize,
    IReadOnlyList<ReportLayer> Layers,
    IReadOnlyList<SnapshotInfo> Snapshots,
    ReportPartitions Partitions,
    IReadOnlyList<ReportDigests> Digests);

public static partial class ImageOperations
{
    /// <summary>
    /// A record of the evidence: each file of the chain (path, size, mtime, sha256 of the host file, format facts),
    /// the guest disk (size, bytes each layer holds), snapshots, the partition table with each volume's file system,
    /// and optionally the digests of every view. Reads only, under <c>info</c>'s locks held for the whole report.
    /// </summary>
    public static Task<EvidenceReport> ReportAsync(ReportOptions options, IProgress<OperationProgress>? progress = null, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(options);
        return GuardAsync(async () =>
        {
            var algorithms = options.Algorithms ?? [];
            if (algorithms.Distinct().Count() != algorithms.Count || !algorithms.All(Enum.IsDefined))
            {
                throw OperationException.Invalid(nameof(options.Algorithms), "name each digest algorithm once");
            }

            var password = await ImagePasswords.ForImageAsync(options.Passwords, options.Image, options.Format, cancellationToken)
                .ConfigureAwait(false);
            return await RunAsync(() => BuildReport(options, algorithms, password, progress, cancellationToken), cancellationToken).ConfigureAwait(false);
        });
    }

    private static EvidenceReport BuildReport(ReportOptions options, IReadOnlyList<DigestAlgorithm> algorithms, byte[]? password,
        IProgress<OperationProgress>? progress, CancellationToken cancellationToken)
    {
        string format = ImageFormats.Name(options.Format) ?? string.Empty;
        // Held for the whole report: no writer changes the chain between the facts read from it.
        using var disk = DiskReads.OpenForPass(options.Image, ImageFormats.Name(options.Format), null, options.ForceShare, password);
        var descriptions = ImageInspector.Inspect(options.Image, ImageFormats.Name(options.Format), null, backingChain: true, forceShare: true);

        var files = new List<ReportFile>();
        string? path = options.Image;
        for (int depth = 0; depth < descriptions.Count && path is not null; depth++)
        {
            cancellationToken.ThrowIfCancellationRequested();
            var info = new FileInfo(path);
            files.Add(new ReportFile(depth, info.FullName, info.Length, new DateTimeOffset(info.LastWriteTimeUtc, TimeSpan.Zero),
                HostSha256(info.FullName, cancellationToken), descriptions[depth]));
            path = descriptions[depth].FullBackingFilename;
        }

        var allocated = new long[Math.Max(files.Count, 1)];
        foreach (var entry in DiskMap.Map(disk, cancellationToken: cancellationToken))
        {
            if (entry.Present && entry.Depth < allocated.Length)
            {
                allocated[entry.Depth] += entry.Length;
            }
        }

        var layers = files.Select(f => new ReportLayer(f.Depth, f.Path, allocated[f.Depth])).ToList();
        var layout = DiskInspector.Inspect(disk);
        var table = layout.Table;
        var partitions = new ReportPartitions(table.Scheme, table.SectorSize, table.DiskGuid, table.DiskSignature, table.Notes,
            [.. layout.Volumes.Select(v => new ReportVolume(v.Partition, v.FileSystem))]);
        var snapshots = descriptions.Count > 0 ? descriptions[0].Snapshots : [];

        var digests = new List<ReportDigests>();
        if (algorithms.Count > 0)
        {
            System.Security.Cryptography.HashAlgorithmName[] names = [.. algorithms.Select(ImageHasher.NameOf)];
            var views = new List<string?> { null };
            views.AddRange(snapshots.Select(s => (string?)s.Id));
            long total = disk.Length + snapshots.Sum(s => (long)(s.DiskSize ?? (ulong)disk.Length));
            long before = 0;
            foreach (var snapshot in views)
            {
                using var view = snapshot is null ? null : DiskReads.OpenForPass(options.Image, format.Length == 0 ? null : format, snapshot, forceShare: true, password);
                var target = view ?? disk;
                long start = before;
                var hex = new ImageHasher(target, Math.Clamp(2 * Environment.ProcessorCount, 4, 16))
                    .Hash(names, progress is null ? null : done => Report(progress, start + done, total), cancellationToken);
                digests.Add(new ReportDigests(snapshot is null ? null : snapshots.First(s => s.Id == snapshot).Name, target.Length,
                    [.. algorithms.Select((a, i) => new ImageDigest(a, hex[i]))]));
                before += target.Length;
            }

            Report(progress, total, total);
        }

        return new EvidenceReport(Path.GetFullPath(options.Image), DateTimeOffset.UtcNow, files, disk.Length, layers, snapshots, partitions, digests);
    }

    /// <summary>The sha256 of a host file, read as it lies (shared with readers and writers, as a copy tool reads).</summary>
    private static string HostSha256(string path, CancellationToken cancellationToken)
    {
        using var stream = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.ReadWrite | FileShare.Delete, 1 << 20, FileOptions.SequentialScan);
        using var sha = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
        byte[] buffer = new byte[1 << 20];
        int n;
        while ((n = stream.Read(buffer)) > 0)
        {
            cancellationToken.ThrowIfCancellationRequested();
            sha.AppendData(buffer, 0, n);
        }

        return System.Convert.ToHexStringLower(sha.GetHashAndReset());
    }
}
