using Qcow2Mount.Control.Protocol;
using Qcow2Mount.Mounting;
using Qcow2Mount.Operations;
using Qcow2Mount.Qcow2.Check;
using Qcow2Mount.Qcow2.Snapshots;

namespace Qcow2Mount.PowerShell;

/// <summary>The core's results as the module's output objects: property names PowerShell users expect, no engine types.</summary>
internal static class OutputObjects
{
    public static Qcow2MountedImage Mount(MountInfo info, bool attached = true) => new()
    {
        ImagePath = info.Image,
        MountPoint = info.MountPoint,
        Access = info.ReadOnly ? Qcow2ImageAccess.ReadOnly : Qcow2ImageAccess.ReadWrite,
        Size = info.Size,
        DiskPath = DiskPath(info.MountPoint),
        Snapshot = info.Snapshot,
        Attached = attached,
        Mode = info.Mode,
        OverlayPath = info.Overlay,
        KeepOverlay = info.KeepOverlay,
        ForceShare = info.ForceShare,
        Repaired = info.Repaired,
        MountedAt = info.MountedAt,
    };

    /// <summary>The raw file of a mount at <paramref name="mountPoint"/> (a drive letter's root on Windows).</summary>
    public static string DiskPath(string mountPoint) =>
        Hosting.DefaultMountPoint.IsDriveLetter(mountPoint)
            ? Hosting.DefaultMountPoint.NormalizeDriveLetter(mountPoint) + "\\" + Volume.DiskFileName
            : Path.Combine(mountPoint, Volume.DiskFileName);

    /// <summary>
    /// One <see cref="Qcow2ImageInfo"/> per description, <paramref name="path"/> (full) first; each backing file's
    /// path is the one its overlay resolves.
    /// </summary>
    public static IEnumerable<Qcow2ImageInfo> Images(string path, IReadOnlyList<ImageDescription> chain)
    {
        string current = path;
        for (int depth = 0; depth < chain.Count; depth++)
        {
            var image = chain[depth];
            yield return new Qcow2ImageInfo
            {
                Path = current,
                Format = image.Format,
                VirtualSize = image.VirtualSize,
                ActualSize = image.ActualSize,
                ClusterSize = image.ClusterSize,
                BackingFile = image.BackingFilename,
                FullBackingFile = image.FullBackingFilename,
                BackingFormat = image.BackingFormat,
                Depth = depth,
                DirtyFlag = image.DirtyFlag,
                Compat = image.Qcow2?.Compat,
                CompressionType = image.Qcow2?.CompressionType,
                LazyRefcounts = image.Qcow2?.LazyRefcounts,
                RefcountBits = image.Qcow2?.RefcountBits,
                DataFile = image.Qcow2?.DataFile,
                DataFileRaw = image.Qcow2?.DataFileRaw,
                Corrupt = image.Qcow2?.Corrupt,
                ExtendedL2 = image.Qcow2?.ExtendedL2,
                Encrypted = image.Encrypted,
                EncryptionFormat = image.Qcow2?.Encrypt?.Format,
                Snapshots = [.. image.Snapshots.Select(s => Snapshot(current, s))],
            };
            current = image.FullBackingFilename ?? image.BackingFilename ?? current;
        }
    }

    public static Qcow2Snapshot Snapshot(string image, SnapshotInfo snapshot) => new()
    {
        ImagePath = image,
        Id = snapshot.Id,
        Name = snapshot.Name,
        VMStateSize = checked((long)snapshot.VmStateSize),
        Date = snapshot.Date,
        VMClock = TimeSpan.FromTicks((long)(snapshot.VmClockNanoseconds / 100)),
        DiskSize = snapshot.DiskSize is { } size ? checked((long)size) : null,
        Icount = snapshot.Icount,
    };

    public static Qcow2CheckResult Check(string image, CheckResult result) => new()
    {
        Path = image,
        IsClean = result.IsClean,
        Corruptions = result.Corruptions,
        Leaks = result.Leaks,
        CheckErrors = result.CheckErrors,
        CorruptionsFixed = result.CorruptionsFixed,
        LeaksFixed = result.LeaksFixed,
        TotalClusters = result.TotalClusters,
        AllocatedClusters = result.AllocatedClusters,
        FragmentedClusters = result.FragmentedClusters,
        CompressedClusters = result.CompressedClusters,
        ImageEndOffset = result.ImageEndOffset,
    };

    /// <summary>Get-FileHash's spelling: the algorithm's upper-case name, the digest in upper-case hex.</summary>
    public static Qcow2ImageHash Hash(string image, ImageDigest digest) => new()
    {
        Algorithm = digest.Algorithm.ToString().ToUpperInvariant(),
        Hash = digest.Hex.ToUpperInvariant(),
        Path = image,
    };
}
