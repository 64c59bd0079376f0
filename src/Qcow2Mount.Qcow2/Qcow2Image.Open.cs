using Qcow2Mount.Qcow2.Backing;
using Qcow2Mount.Qcow2.Crypto;
using Qcow2Mount.Qcow2.Format;
using Qcow2Mount.Qcow2.Mapping;
using Qcow2Mount.Qcow2.Snapshots;
using Qcow2Mount.Qcow2.Storage;

namespace Qcow2Mount.Qcow2;

/// <summary>
/// Opening an image, step by step, in QEMU's order; each step names the file in its errors and the whole open
/// closes what it opened when a later step fails.
/// </summary>
public sealed partial class Qcow2Image
{
    /// <summary>Opens a qcow2 image file.</summary>
    public static Qcow2Image Open(string path, Qcow2OpenOptions? options = null) =>
        Open(path, options ?? new Qcow2OpenOptions(), new BackingChainState());

    /// <summary>
    /// Opens an image in QEMU's order: the host file (and its lock), the header, the encryption, the external data
    /// file, a dirty image's repair (writable opens), the snapshot table and the L1 table of the view, the backing
    /// chain; last, a writable open loads its refcounts. Whatever was opened is closed again when a step fails.
    /// </summary>
    internal static Qcow2Image Open(string path, Qcow2OpenOptions options, BackingChainState chain)
    {
        if (options.Writable && options.Snapshot is not null)
        {
            throw new Qcow2Exception(Qcow2ErrorCode.InvalidArgument, $"{path}: snapshot views are read-only");
        }

        chain.Enter(path, options.MaxBackingDepth);
#pragma warning disable CA2000 // Wrong: the file goes to the image, and the catch below disposes it when the open fails.
        var file = options.HostFileOpener?.Invoke(path, options.Writable)
            ?? HostFile.Open(path, options.Writable, lockWriter: options.Writable && options.Lock, lockReader: options.HoldReaderLock, forceShare: options.ForceShare);
#pragma warning restore CA2000
        IHostFile? dataFile = null;
        IVirtualDisk? backing = null;
        ImageEncryption? encryption = null;
        try
        {
            var read = NameFile(path, () => MetadataReader.ReadHeader(file));
            var header = read.Header;
            encryption = OpenEncryption(path, file, read, options);
            string? backingName = NameFile(path, read.BackingName);
            dataFile = OpenDataFile(path, read, options);
            var repair = options.Writable ? RepairIfDirty(file, ref header) : null;
            var snapshots = SnapshotTable.Read(file, header);
            var (view, l1, length) = ReadView(path, file, header, snapshots, options.Snapshot);
            backing = OpenBacking(path, backingName, read.Extensions.BackingFormat, options, chain);

            var image = new Qcow2Image(path, file, header, read.Extensions, backingName, dataFile, backing, snapshots, l1, length, view, options, encryption)
            {
                DirtyRepair = repair,
            };
            if (options.Writable)
            {
                image.InitWritable();
            }

            return image;
        }
        catch
        {
            encryption?.Dispose();
            backing?.Dispose();
            dataFile?.Dispose();
            file.Dispose();
            throw;
        }
    }

    /// <summary>The image's encryption, unlocked when a password or unlocked keys are given; null for a plain image.</summary>
    private static ImageEncryption? OpenEncryption(string path, IHostFile file, ImageHeader read, Qcow2OpenOptions options)
    {
        var header = read.Header;
        if (header.CryptMethod == CryptMethod.None)
        {
            return null;
        }

        var encryption = NameFile(path, () => ImageEncryption.Open(file, header, read.Extensions, options.Password, options.UnlockedKeys));
        if (encryption.Cipher is null && !options.MetadataOnly)
        {
            encryption.Dispose();
            throw new Qcow2Exception(Qcow2ErrorCode.Password,
                $"{path}: image is encrypted ({(header.CryptMethod == CryptMethod.Luks ? "LUKS" : "legacy AES")}); give its password (--password-file FILE)");
        }

        return encryption;
    }

    /// <summary>
    /// The external data file, through the same opener as the image (unsynced for a conversion's output,
    /// fault-injecting in tests); null when the image keeps its data inside.
    /// </summary>
    private static IHostFile? OpenDataFile(string path, ImageHeader read, Qcow2OpenOptions options)
    {
        var header = read.Header;
        if (!header.HasExternalDataFile)
        {
            return header.HasRawExternalData
                ? throw new Qcow2Exception(Qcow2ErrorCode.InvalidHeader, $"{path}: raw external data bit set without an external data file")
                : null;
        }

        if (string.IsNullOrEmpty(read.Extensions.ExternalDataFile))
        {
            throw new Qcow2Exception(Qcow2ErrorCode.MissingFile, $"{path}: image needs an external data file but names none");
        }

        string dataPath = BackingPath.Resolve(path, read.Extensions.ExternalDataFile);
#pragma warning disable CA2000 // Wrong: the data file is returned to Open, which hands it to the image or disposes it.
        return options.HostFileOpener?.Invoke(dataPath, options.Writable)
            ?? HostFile.Open(dataPath, options.Writable, lockReader: options.HoldReaderLock, forceShare: options.ForceShare);
#pragma warning restore CA2000
    }

    /// <summary>
    /// A writable open refuses a corrupt image and repairs a dirty one first (lazy refcounts, unclean stop), as
    /// QEMU does; a repair that leaves corruption fails the open. Returns what was repaired, or null.
    /// </summary>
    private static Check.CheckResult? RepairIfDirty(IHostFile file, ref Qcow2Header header)
    {
        if (header.IsCorrupt)
        {
            throw new Qcow2Exception(Qcow2ErrorCode.Corrupt, $"{file.Path}: image is corrupt; cannot be opened read/write (run check --repair all)");
        }

        if (!header.IsDirty)
        {
            return null;
        }

        var result = Check.ImageChecker.Repair(file, Check.RepairMode.All);
        if (result.Corruptions > 0 || result.CheckErrors > 0)
        {
            throw new Qcow2Exception(Qcow2ErrorCode.Corrupt,
                $"{file.Path}: could not repair dirty image ({result.Corruptions} corruptions, {result.CheckErrors} check errors left)");
        }

        header = NameFile(file.Path, () => MetadataReader.ReadHeader(file)).Header;
        return result;
    }

    /// <summary>What this instance presents: the active layer, or the snapshot named <paramref name="wanted"/> (by id, then name).</summary>
    private static (SnapshotEntry? View, ulong[] L1, long Length) ReadView(
        string path, IHostFile file, Qcow2Header header, List<SnapshotEntry> snapshots, string? wanted)
    {
        if (wanted is null)
        {
            return (null, MetadataReader.ReadL1(file, header.L1TableOffset, header.L1Size, header.ClusterSize, "active layer"), (long)header.Size);
        }

        var view = SnapshotTable.Find(snapshots, wanted)
            ?? throw new Qcow2Exception(Qcow2ErrorCode.SnapshotNotFound, $"{path}: no snapshot named '{wanted}'");
        var l1 = MetadataReader.ReadL1(file, view.L1TableOffset, view.L1Size, header.ClusterSize, $"snapshot '{view.Name}'");
        return (view, l1, SnapshotLength(path, header, view));
    }

    /// <summary>The backing disk (read-only, the active layer), or null without one or with <see cref="Qcow2OpenOptions.IgnoreBacking"/>.</summary>
    private static IVirtualDisk? OpenBacking(string path, string? backingName, string? backingFormat, Qcow2OpenOptions options, BackingChainState chain)
    {
        if (backingName is null || options.IgnoreBacking)
        {
            return null;
        }

        string backingPath = BackingPath.Resolve(path, backingName);
        if (!File.Exists(backingPath))
        {
            throw new Qcow2Exception(Qcow2ErrorCode.MissingFile, $"{path}: backing file {backingPath} not found");
        }

        return VirtualDisk.Open(backingPath, backingFormat, options with { Snapshot = null, Writable = false }, chain);
    }

    /// <summary>
    /// The guest size of a snapshot view: its disk_size (the active size when the entry does not record one), which
    /// must be in the header's range and mapped by the snapshot's own L1 table.
    /// </summary>
    private static long SnapshotLength(string path, Qcow2Header header, SnapshotEntry view)
    {
        ulong size = view.DiskSize ?? header.Size;
        var geometry = new Geometry(header);
        if (size > Qcow2Header.MaxVirtualSize || geometry.L1EntriesFor(size) > view.L1Size)
        {
            throw new Qcow2Exception(Qcow2ErrorCode.InvalidHeader,
                $"{path}: snapshot '{view.Name}' has disk size {size}, beyond its L1 table of {view.L1Size} entries or the format's limit");
        }

        return (long)size;
    }

    /// <summary>Runs a parser that knows bytes, not files, and puts the file name in front of its error.</summary>
    private static T NameFile<T>(string path, Func<T> parse)
    {
        try
        {
            return parse();
        }
        catch (Qcow2Exception e)
        {
            throw new Qcow2Exception(e.Code, $"{path}: {e.Message}", e);
        }
    }
}
