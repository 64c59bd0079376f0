using Qcow2Mount.Qcow2;
using Qcow2Mount.Qcow2.Backing;
using Qcow2Mount.Qcow2.Format;

namespace Qcow2Mount.Operations;

/// <summary>Describes an image, or its whole backing chain, without reading guest data.</summary>
internal static class ImageInspector
{
    /// <param name="path">The image file, as the user gave it.</param>
    /// <param name="format">"qcow2" or "raw", or null to probe.</param>
    /// <param name="snapshot">Describe the image as seen through this internal snapshot (id or name).</param>
    /// <param name="backingChain">Also describe every backing image, overlay first.</param>
    /// <param name="forceShare">Take no lock (qemu-img -U); otherwise an image being written is refused.</param>
    public static IReadOnlyList<ImageDescription> Inspect(string path, string? format, string? snapshot, bool backingChain, bool forceShare = false)
    {
        var result = new List<ImageDescription>();
        var chain = new BackingChainState();
        string displayName = path, openPath = path;
        while (true)
        {
            // qemu-img info --backing-chain follows a chain of any depth; only a loop ends it.
            chain.Enter(openPath, int.MaxValue);

            // Each image is opened on its own (backing ignored), so info works even where a backing file is missing,
            // as qemu-img info does.
            var options = new Qcow2OpenOptions { IgnoreBacking = true, Snapshot = result.Count == 0 ? snapshot : null, HoldReaderLock = !forceShare, MetadataOnly = true };
            using var disk = VirtualDisk.Open(openPath, format, options);
            if (options.Snapshot is not null && disk is not Qcow2Image)
            {
                throw new Qcow2Exception(Qcow2ErrorCode.InvalidArgument, $"{openPath}: internal snapshots need a qcow2 image");
            }

            var description = Describe(disk, displayName, openPath);
            result.Add(description);
            if (!backingChain || disk is not Qcow2Image { BackingFile: { } backingName } image)
            {
                return result;
            }

            displayName = description.FullBackingFilename!;
            openPath = BackingPath.Resolve(openPath, backingName);
            format = image.BackingFormat;
        }
    }

    private static ImageDescription Describe(IVirtualDisk disk, string displayName, string openPath)
    {
        long actualSize = AllocatedSize.Of(openPath);
        if (disk is not Qcow2Image image)
        {
            return new ImageDescription(displayName, "raw", disk.Length, actualSize, null, false, null, null, null, [], null);
        }

        var header = image.Header;
        bool v3 = header.Version >= 3;
        var details = new Qcow2Details(
            Compat: v3 ? "1.1" : "0.10",
            CompressionType: header.CompressionType == CompressionType.Zstd ? "zstd" : "zlib",
            LazyRefcounts: v3 ? header.HasLazyRefcounts : null,
            RefcountBits: header.RefcountBits,
            DataFile: image.DataFile,
            DataFileRaw: image.DataFile is null ? null : header.HasRawExternalData,
            Corrupt: v3 ? header.IsCorrupt : null,
            ExtendedL2: v3 ? header.HasExtendedL2 : null,
            Encrypt: image.Encryption is { } e ? new EncryptDetails(e.Method == CryptMethod.Luks ? "luks" : "aes", e.Luks) : null);
        return new ImageDescription(
            displayName,
            "qcow2",
            image.Length,
            actualSize,
            header.ClusterSize,
            header.IsDirty,
            image.BackingFile,
            image.BackingFile is null ? null : CombineLikeQemu(displayName, image.BackingFile),
            image.BackingFormat,
            image.Snapshots,
            details);
    }

    /// <summary>
    /// The backing name relative to the overlay's name as given (qemu-img's "full-backing-filename"):
    /// absolute names stay, relative ones get the overlay's directory prefix, unnormalized.
    /// </summary>
    internal static string CombineLikeQemu(string overlay, string backing)
    {
        if (Path.IsPathRooted(backing))
        {
            return backing;
        }

        int slash = OperatingSystem.IsWindows() ? overlay.LastIndexOfAny(['/', '\\', ':']) : overlay.LastIndexOf('/');
        return overlay[..(slash + 1)] + backing;
    }
}
