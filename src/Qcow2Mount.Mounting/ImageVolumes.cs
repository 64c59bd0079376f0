using System.Diagnostics.CodeAnalysis;
using Qcow2Mount.Qcow2;
using Qcow2Mount.Qcow2.Create;
using Qcow2Mount.Qcow2.Crypto;

namespace Qcow2Mount.Mounting;

/// <summary>An image and how to present it: what <see cref="ImageVolumes.Open"/> turns into a <see cref="Volume"/>.</summary>
public sealed record ImageVolumeRequest
{
    /// <summary>The qcow2 image (the original, in overlay mode), as a full path.</summary>
    public required string Image { get; init; }

    public required MountMode Mode { get; init; }

    /// <summary>Snapshot mode: the internal snapshot (name or id) shown as disk.raw.</summary>
    public string? Snapshot { get; init; }

    /// <summary>Overlay mode: where to create the overlay; null creates one in a private temporary folder.</summary>
    public string? OverlayPath { get; init; }

    /// <summary>Overlay mode: the overlay is kept after the volume closes (the caller deletes it otherwise).</summary>
    public bool KeepOverlay { get; init; }

    /// <summary>Take none of QEMU's locks (qemu-img -U); for reading only.</summary>
    public bool ForceShare { get; init; }

    /// <summary>The password of an encrypted image, UTF-8; unlocked once for the image and every snapshot view.</summary>
    [SuppressMessage("Performance", "CA1819:Properties should not return arrays", Justification = "The password's bytes are handed on as the caller holds them; a property returning a copy would leave one more copy of the secret in memory on every read.")]
    public byte[]? Password { get; init; }

    /// <summary>Cache sizes and write behaviour for every image opened (Writable and Snapshot are set per image).</summary>
    public Qcow2OpenOptions OpenOptions { get; init; } = new() { HoldReaderLock = true };

    /// <summary>Throws <see cref="VolumeException"/> (InvalidArgument) when the options contradict the mode.</summary>
    public void Validate()
    {
        string mode = ModeName(Mode);
        if (Mode == MountMode.Snapshot && string.IsNullOrWhiteSpace(Snapshot))
        {
            throw new VolumeException(VolumeErrorCode.InvalidArgument, "Snapshot mode needs the name or id of a snapshot.");
        }

        if (Mode != MountMode.Snapshot && Snapshot is not null)
        {
            throw new VolumeException(VolumeErrorCode.InvalidArgument, $"A snapshot is named only in snapshot mode, not in {mode} mode.");
        }

        if (Mode != MountMode.Overlay && (OverlayPath is not null || KeepOverlay))
        {
            throw new VolumeException(VolumeErrorCode.InvalidArgument, $"An overlay is used only in overlay mode, not in {mode} mode.");
        }

        if (Mode == MountMode.Writable && ForceShare)
        {
            // As qemu-img: sharing is forced only for reading; a writer and a VM writing the same image corrupt it.
            throw new VolumeException(VolumeErrorCode.InvalidArgument, "Force-share is for reading only; a writable mount always takes the write lock.");
        }
    }

    /// <summary>The mode as the protocol and messages spell it ("readonly", "writable", ...).</summary>
    public static string ModeName(MountMode mode) => mode.ToString().ToLowerInvariant();
}

/// <summary>
/// A volume opened for a request: the caller owns <see cref="Volume"/> (and the images in it), and deletes
/// <see cref="Overlay"/> once the volume is closed unless the request keeps it.
/// </summary>
/// <param name="Volume">The disk views the mount shows, owned by the caller.</param>
/// <param name="Overlay">The temporary overlay file of an overlay mount (null otherwise).</param>
/// <param name="Repaired">What opening repaired first (a writable image left dirty), if anything.</param>
/// <param name="SnapshotFiles">The names under <c>snapshots/</c>, one per internal snapshot.</param>
public sealed record ImageVolume(Volume Volume, string? Overlay, string? Repaired, IReadOnlyList<string> SnapshotFiles);

/// <summary>
/// Image to volume: opens an image in a mount mode (read-only, writable, through a new overlay, or one internal
/// snapshot), adds a read-only view of every internal snapshot under <c>snapshots/</c>, and unlocks an encrypted
/// image once for all of them. What every file system adapter mounts, whoever asks (the service, a foreground mount).
/// </summary>
public static class ImageVolumes
{
    /// <summary>Opens the volume; on failure nothing stays open and an overlay created here is removed.</summary>
    public static ImageVolume Open(ImageVolumeRequest request)
    {
        ArgumentNullException.ThrowIfNull(request);
        request.Validate();
        string image = request.Image;
        var mode = request.Mode;
        // The image and each of its snapshot views: one PBKDF2 unlock for all of them.
        var keys = request.Password is null ? null : new UnlockedKeys();
        Qcow2OpenOptions Options(bool writable, string? snapshot = null) =>
            request.OpenOptions with { Writable = writable, Snapshot = snapshot, ForceShare = request.ForceShare, Password = request.Password, UnlockedKeys = keys };
        var disks = new List<IVirtualDisk>();
        string? overlay = null;
        try
        {
            Qcow2Image main;
            IReadOnlyList<Qcow2.Snapshots.SnapshotInfo> snapshots;
            string? repaired = null;
            switch (mode)
            {
                case MountMode.Overlay:
                    using (var original = Qcow2Image.Open(image, Options(writable: false)))
                    {
                        // Opening the original first proves it (and its backing chain) is readable before anything is created.
                        snapshots = original.Snapshots;
                        if (original.EncryptedChain)
                        {
                            // The overlay is a plain qcow2: what is written, and every cluster copied on write, would
                            // lie there decrypted (kept with --keep-overlay).
                            throw new VolumeException(VolumeErrorCode.NotSupported,
                                $"{image}: an overlay of an encrypted image would hold its data unencrypted; mount it read-only, or --writable");
                        }
                    }

                    overlay = CreateOverlay(image, request.OverlayPath);
                    main = Qcow2Image.Open(overlay, Options(writable: true));
                    break;
                case MountMode.Snapshot:
                    main = Qcow2Image.Open(image, Options(writable: false, request.Snapshot));
                    snapshots = main.Snapshots;
                    break;
                default:
                    main = Qcow2Image.Open(image, Options(writable: mode == MountMode.Writable));
                    snapshots = main.Snapshots;
                    if (main.DirtyRepair is { } repair)
                    {
                        repaired = repair.DirtyRepairSummary;
                    }

                    break;
            }

            disks.Add(main);
            var snapshotDisks = new List<SnapshotDisk>();
            foreach (var snapshot in snapshots)
            {
                // Under a writable mount the writer lock already guards the file, and our own reader lock would refuse it.
                var disk = Qcow2Image.Open(image, Options(writable: false, snapshot.Id) with { HoldReaderLock = mode != MountMode.Writable });
                disks.Add(disk);
                snapshotDisks.Add(new SnapshotDisk(snapshot.Name, disk));
            }

            bool readOnly = mode is MountMode.ReadOnly or MountMode.Snapshot;
            var volume = new Volume(main, VolumeOptions.ForImage(image, readOnly), snapshotDisks);
            var files = volume.Find(Volume.SnapshotDirectoryName)?.Children.Where(n => !n.IsDirectory).Select(n => n.Name).ToList() ?? [];
            return new ImageVolume(volume, overlay, repaired, files);
        }
        catch
        {
            foreach (var disk in disks)
            {
                disk.Dispose();
            }

            if (overlay is not null)
            {
                TryDelete(overlay);
            }

            throw;
        }
    }

    /// <summary>Creates the overlay: a new qcow2 image whose backing file is the original, by absolute path.</summary>
    private static string CreateOverlay(string image, string? requestedPath)
    {
        string overlay;
        if (requestedPath is not null)
        {
            overlay = Path.GetFullPath(requestedPath);
            if (File.Exists(overlay) || Directory.Exists(overlay))
            {
                throw new VolumeException(VolumeErrorCode.InvalidArgument, $"Overlay '{overlay}' already exists; name a new file or remove it.");
            }

            if (string.Equals(overlay, image, OperatingSystem.IsWindows() ? StringComparison.OrdinalIgnoreCase : StringComparison.Ordinal))
            {
                throw new VolumeException(VolumeErrorCode.InvalidArgument, "The overlay cannot be the image itself.");
            }
        }
        else
        {
            string folder = Path.Combine(Path.GetTempPath(), "qcow2mount-overlays");
            if (OperatingSystem.IsWindows())
            {
                Directory.CreateDirectory(folder);
            }
            else
            {
                Directory.CreateDirectory(folder, UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute);
            }

            overlay = Path.Combine(folder, $"{Path.GetFileNameWithoutExtension(image)}-{Guid.NewGuid():N}.qcow2");
        }

        ImageCreator.Create(overlay, new CreateOptions { BackingFile = image, BackingFormat = VirtualDisk.Probe(image) });
        return overlay;
    }

    /// <summary>Removes an overlay of a failed open; the open's own error is the one worth reporting.</summary>
    private static void TryDelete(string overlay)
    {
        try
        {
            File.Delete(overlay);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            // Left in the private overlay folder (or where the caller named it); the open's error says what failed.
        }
    }
}
