using System.Runtime.InteropServices;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;
using Qcow2Mount.Control.Protocol;
using Qcow2Mount.Mounting;
using Qcow2Mount.Qcow2;
using Qcow2Mount.Qcow2.Create;
using Qcow2Mount.Service.Configuration;

namespace Qcow2Mount.Service.Mounts;

/// <summary>
/// Owns every mount of one process (the service, or a foreground <c>mount</c>): opens the image in the asked mode,
/// builds the volume with <c>snapshots/*.raw</c>, mounts it through the OS adapter, and cleans up when the file
/// system goes away, whoever unmounted it (overlay removed unless kept). Thread-safe. Every failure is a
/// <see cref="MountException"/>.
/// </summary>
public sealed class MountManager : IDisposable
{
    private readonly IFileSystemHost _host;
    private readonly ServiceSettings _settings;
    private readonly ILogger _logger;
    private readonly Lock _tableLock = new();
    private readonly List<ActiveMount> _mounts = [];

    // Mounts one at a time, so the checks against the table still hold when the new mount is added to it.
    private readonly SemaphoreSlim _mountGate = new(1, 1);
    private bool _closed;

    public MountManager(IFileSystemHost host, ServiceSettings? settings = null, ILogger<MountManager>? logger = null)
    {
        ArgumentNullException.ThrowIfNull(host);
        _host = host;
        _settings = settings ?? new ServiceSettings();
        _logger = (ILogger?)logger ?? NullLogger.Instance;
    }

    /// <summary>The adapter mounts go through ("fuse", ...).</summary>
    public string FileSystemName => _host.Name;

    public int Count
    {
        get
        {
            lock (_tableLock)
            {
                return _mounts.Count;
            }
        }
    }

    /// <summary>Every live mount, in mount order.</summary>
    public IReadOnlyList<MountInfo> List()
    {
        lock (_tableLock)
        {
            return [.. _mounts.Select(m => m.Info)];
        }
    }

    /// <summary>Mounts and returns once disk.raw is readable at the mount point.</summary>
    public MountInfo Mount(MountRequest request)
    {
        ArgumentNullException.ThrowIfNull(request);
        return MountEntry(request).Info;
    }

    private ActiveMount MountEntry(MountRequest request)
    {
        try
        {
            return MountCore(request);
        }
        catch (Exception e) when (e is not MountException)
        {
            throw MountException.From(e);
        }
    }

    /// <summary>
    /// Unmounts the mount at <paramref name="mountPoint"/> and returns once its image is flushed and closed (and a
    /// temporary overlay removed). Without <paramref name="force"/>, open files make it fail with
    /// <see cref="ErrorCodes.Busy"/>.
    /// </summary>
    public MountInfo Unmount(string mountPoint, bool force = false)
    {
        ArgumentException.ThrowIfNullOrEmpty(mountPoint);
        string full = NormalizeDirectory(mountPoint);
        ActiveMount entry;
        lock (_tableLock)
        {
            entry = _mounts.FirstOrDefault(m => m.Matches(full))
                ?? throw new MountException(ErrorCodes.NotMounted, $"Nothing is mounted at '{full}' by this service.");
        }

        try
        {
            entry.FileSystem.Unmount(force);
        }
        catch (Exception e)
        {
            throw MountException.From(e);
        }

        if (force && !ClosesSoon(entry))
        {
            // Detached, but open files keep the loop alive (no fusectl to cut them off): do not wait for them to
            // close; make what was written durable now and say so. The entry goes when the last file closes.
            try
            {
                entry.FileSystem.Volume.FlushAll();
            }
            catch (Exception e)
            {
                throw MountException.From(e);
            }

            return entry.Info with { StillOpen = true };
        }

        WaitClosed(entry);
        return entry.Info;
    }

    /// <summary>How long a forced unmount waits for the image to close before it reports it still open.</summary>
    private static readonly TimeSpan ForcedCloseWait = TimeSpan.FromSeconds(2);

    /// <summary>
    /// Whether the image of a forcibly unmounted entry closes within <see cref="ForcedCloseWait"/>; waited for without
    /// throwing, so a failed final flush is left to WaitClosed to report as an I/O error.
    /// </summary>
    private static bool ClosesSoon(ActiveMount entry) => ((IAsyncResult)entry.Closed.Task).AsyncWaitHandle.WaitOne(ForcedCloseWait);

    /// <summary>
    /// Refuses new mounts from now on, provided nothing is mounted; throws <see cref="ErrorCodes.Busy"/> (and changes
    /// nothing) otherwise. A mount under way is waited for, so it either counts or is refused: none slips in between
    /// this check and the service's exit.
    /// </summary>
    public void CloseIfIdle()
    {
        _mountGate.Wait();
        try
        {
            lock (_tableLock)
            {
                if (_mounts.Count > 0)
                {
                    throw new MountException(ErrorCodes.Busy,
                        $"{_mounts.Count} image(s) are mounted (first at '{_mounts[0].Info.MountPoint}'); a shutdown if idle leaves them and the service alone.");
                }

                _closed = true;
            }
        }
        finally
        {
            _mountGate.Release();
        }
    }

    /// <summary>Unmounts everything (forcibly: the service is stopping) and refuses new mounts from now on.</summary>
    public void UnmountAll()
    {
        List<ActiveMount> mounts;
        lock (_tableLock)
        {
            _closed = true;
            mounts = [.. _mounts];
        }

        Parallel.ForEach(mounts, entry =>
        {
            try
            {
                entry.FileSystem.Unmount(force: true);
                if (!ClosesSoon(entry))
                {
                    // Open files keep it alive and nothing can cut them off: do not wait out the timeout for them.
                    _logger.LogWarning("{MountPoint} still has open files; flushing {Image} before exit", entry.Info.MountPoint, entry.Info.Image);
                    FlushBeforeExit(entry);
                    return;
                }

                WaitClosed(entry);
            }
            catch (Exception e)
            {
                _logger.LogError(e, "Unmounting {MountPoint} failed: {Message}", entry.Info.MountPoint, e.Message);
                FlushBeforeExit(entry);
            }
        });
    }

    /// <summary>
    /// Foreground mode: mounts, calls <paramref name="mounted"/>, then waits until the file system is unmounted from
    /// outside or <paramref name="cancellationToken"/> fires (Ctrl+C), in which case it unmounts. Returns the mount
    /// once the image is closed; throws the final flush's error, if any.
    /// </summary>
    public async Task<MountInfo> RunForegroundAsync(MountRequest request, Action<MountInfo>? mounted = null, CancellationToken cancellationToken = default)
    {
        // The entry itself, not a lookup: an unmount from outside may already have taken it out of the table.
        var entry = MountEntry(request);
        var info = entry.Info;

        mounted?.Invoke(info);
        var stop = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        await using (cancellationToken.Register(() => stop.TrySetResult()))
        {
            await Task.WhenAny(entry.Closed.Task, stop.Task).ConfigureAwait(false);
        }

        if (!entry.Closed.Task.IsCompleted)
        {
            await Task.Run(() => Unmount(info.MountPoint, force: true), CancellationToken.None).ConfigureAwait(false);
        }

        WaitClosed(entry);
        return info;
    }

    public void Dispose()
    {
        UnmountAll();
        _mountGate.Dispose();
    }

    private ActiveMount MountCore(MountRequest request)
    {
        if (!_host.IsAvailable(out string reason))
        {
            throw new MountException(ErrorCodes.FileSystemUnavailable, $"Cannot mount with {_host.Name}: {reason}");
        }

        string image = Path.GetFullPath(request.ImagePath);
        if (Directory.Exists(image))
        {
            throw new MountException(ErrorCodes.InvalidArgument, $"'{image}' is a directory, not an image.");
        }

        if (!File.Exists(image))
        {
            throw new MountException(ErrorCodes.MissingFile, $"Image '{image}' does not exist.");
        }

        var mode = request.Mode ?? _settings.Mount.DefaultMode;
        CheckModeArguments(request, mode);
        string mountPoint = OperatingSystem.IsWindows()
            ? Mounting.Windows.MountPoints.Resolve(request.MountPoint, Mounting.Windows.MachineMountPointProbe.Instance).Path
            : NormalizeDirectory(request.MountPoint);
        if (!OperatingSystem.IsWindows() && !Directory.Exists(mountPoint))
        {
            if (UnusableReason(mountPoint) is { } unusable)
            {
                // Most often a mount whose server died (kill -9): stat fails with ENOTCONN, not ENOENT.
                throw unusable.DeadMount
                    ? new MountException(ErrorCodes.Busy,
                        $"Mount point '{mountPoint}' cannot be used ({unusable.Reason}); the file system there died: unmount it first (fusermount3 -u '{mountPoint}').")
                    : new MountException(ErrorCodes.AccessDenied, $"Mount point '{mountPoint}' cannot be used ({unusable.Reason}).");
            }

            throw File.Exists(mountPoint)
                ? new MountException(ErrorCodes.NotDirectory, $"Mount point '{mountPoint}' is a file, not a directory.")
                : new MountException(ErrorCodes.NotFound, $"Mount point '{mountPoint}' does not exist.");
        }

        _mountGate.Wait();
        try
        {
            CheckAgainstTable(image, mode, mountPoint);
            var opened = OpenVolume(image, mode, request);
            IMountedFileSystem fileSystem;
            try
            {
                fileSystem = _host.Mount(opened.Volume, mountPoint, _settings.Mount.ToMountOptions(opened.Volume.IsReadOnly));
            }
            catch
            {
                opened.Volume.Dispose();
                DeleteOverlay(opened.Overlay);
                throw;
            }

            var info = new MountInfo
            {
                MountPoint = fileSystem.MountPoint,
                Image = image,
                Mode = MountRequest.ToProtocol(mode),
                Snapshot = request.Snapshot,
                Overlay = opened.Overlay,
                KeepOverlay = request.KeepOverlay,
                ReadOnly = opened.Volume.IsReadOnly,
                ForceShare = request.ForceShare,
                Size = opened.Volume.GetSpace().TotalBytes,
                Snapshots = opened.SnapshotFiles,
                Repaired = opened.Repaired,
                MountedAt = DateTimeOffset.UtcNow,
            };
            var entry = new ActiveMount(info, fileSystem, mountPoint, mode, request.KeepOverlay ? null : opened.Overlay);
            bool closing;
            lock (_tableLock)
            {
                // UnmountAll may have copied the table while this mount was starting: it must not outlive the service.
                closing = _closed;
                if (!closing)
                {
                    _mounts.Add(entry);
                }
            }

            fileSystem.Unmounted.ContinueWith(t => OnUnmounted(entry, t), CancellationToken.None, TaskContinuationOptions.None, TaskScheduler.Default);
            if (closing)
            {
                fileSystem.Unmount(force: true);
                WaitClosed(entry);
                throw new MountException(ErrorCodes.ShuttingDown, "The service is shutting down; it mounts nothing more.");
            }

            _logger.LogInformation("Mounted {Image} ({Mode}) at {MountPoint}", image, info.Mode, info.MountPoint);
            if (opened.Repaired is { } repaired)
            {
                _logger.LogWarning("{Image}: {Repaired}", image, repaired);
            }

            return entry;
        }
        finally
        {
            _mountGate.Release();
        }
    }

    /// <summary>
    /// Why a path that is not a usable directory cannot even be looked at (not "does not exist"), and whether it is
    /// a dead mount (ENOTCONN: its FUSE server is gone); null when it simply is not there.
    /// </summary>
    private static (string Reason, bool DeadMount)? UnusableReason(string path)
    {
        const int ENOTCONN = 107;
        try
        {
            File.GetAttributes(path);
            return null;
        }
        catch (Exception e) when (e is FileNotFoundException or DirectoryNotFoundException)
        {
            return null;
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            // .NET appends " : 'path'" to the OS's text; the caller names the path itself.
            string reason = e.Message.Replace($" : '{path}'", "", StringComparison.Ordinal).ReplaceLineEndings(" ").TrimEnd('.');
            return (reason, e.HResult == ENOTCONN);
        }
    }

    private static void CheckModeArguments(MountRequest request, MountMode mode)
    {
        if (mode == MountMode.Snapshot && string.IsNullOrWhiteSpace(request.Snapshot))
        {
            throw new MountException(ErrorCodes.InvalidArgument, "Snapshot mode needs the name or id of a snapshot.");
        }

        if (mode != MountMode.Snapshot && request.Snapshot is not null)
        {
            throw new MountException(ErrorCodes.InvalidArgument, $"A snapshot is named only in snapshot mode, not in {MountRequest.ToProtocol(mode)} mode.");
        }

        if (mode != MountMode.Overlay && (request.OverlayPath is not null || request.KeepOverlay))
        {
            throw new MountException(ErrorCodes.InvalidArgument, $"An overlay is used only in overlay mode, not in {MountRequest.ToProtocol(mode)} mode.");
        }

        if (mode == MountMode.Writable && request.ForceShare)
        {
            // As qemu-img: sharing is forced only for reading; a writer and a VM writing the same image corrupt it.
            throw new MountException(ErrorCodes.InvalidArgument, "Force-share is for reading only; a writable mount always takes the write lock.");
        }
    }

    private void CheckAgainstTable(string image, MountMode mode, string mountPoint)
    {
        lock (_tableLock)
        {
            if (_closed)
            {
                throw new MountException(ErrorCodes.ShuttingDown, "The service is shutting down; it mounts nothing more.");
            }

            if (_mounts.FirstOrDefault(m => m.Matches(mountPoint)) is { } there)
            {
                throw new MountException(ErrorCodes.Busy, $"'{mountPoint}' is already a mount point ('{there.Info.Image}'); unmount it first.");
            }

            var sameImage = _mounts.Where(m => PathsEqual(m.Info.Image, image)).ToList();
            if (sameImage.FirstOrDefault(m => m.Mode == MountMode.Writable) is { } writer)
            {
                throw new MountException(ErrorCodes.Locked,
                    $"'{image}' is already mounted writable at '{writer.Info.MountPoint}'; an image has one writer and no other mount while it is written.");
            }

            if (mode == MountMode.Writable && sameImage.Count > 0)
            {
                throw new MountException(ErrorCodes.Locked,
                    $"'{image}' is mounted at '{sameImage[0].Info.MountPoint}'; unmount it before mounting it writable (that mount would see it change underneath).");
            }
        }
    }

    private sealed record OpenedVolume(Volume Volume, string? Overlay, string? Repaired, IReadOnlyList<string> SnapshotFiles);

    private OpenedVolume OpenVolume(string image, MountMode mode, MountRequest request)
    {
        var qcow2 = _settings.Qcow2;
        // The image and each of its snapshot views: one PBKDF2 unlock for all of them.
        var keys = request.Password is null ? null : new Qcow2.Crypto.UnlockedKeys();
        Qcow2OpenOptions Options(bool writable, string? snapshot = null) =>
            qcow2.ToOpenOptions(writable, snapshot) with { ForceShare = request.ForceShare, Password = request.Password, UnlockedKeys = keys };
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
                            throw new MountException(ErrorCodes.Unsupported,
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
            var files = volume.Find(Volume.SnapshotDirectoryName)?.Children.Select(n => n.Name).ToList() ?? [];
            return new OpenedVolume(volume, overlay, repaired, files);
        }
        catch
        {
            foreach (var disk in disks)
            {
                disk.Dispose();
            }

            DeleteOverlay(overlay);
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
                throw new MountException(ErrorCodes.InvalidArgument, $"Overlay '{overlay}' already exists; name a new file or remove it.");
            }

            if (PathsEqual(overlay, image))
            {
                throw new MountException(ErrorCodes.InvalidArgument, "The overlay cannot be the image itself.");
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

    private void OnUnmounted(ActiveMount entry, Task unmounted)
    {
        Exception? failure = unmounted.Exception?.GetBaseException();
        if (failure is not null)
        {
            _logger.LogError(failure, "Closing {Image} after unmounting {MountPoint} failed: {Message}", entry.Info.Image, entry.Info.MountPoint, failure.Message);
        }

        DeleteOverlay(entry.OverlayToDelete);
        lock (_tableLock)
        {
            _mounts.Remove(entry);
        }

        _logger.LogInformation("Unmounted {MountPoint} ({Image})", entry.Info.MountPoint, entry.Info.Image);
        if (failure is null)
        {
            entry.Closed.TrySetResult();
        }
        else
        {
            entry.Closed.TrySetException(failure);
        }
    }

    /// <summary>
    /// A forced unmount that could not end the loop (files still open, no fusectl to cut them off) leaves the image
    /// open when the process exits: make what the kernel acknowledged durable first. The image stays marked dirty
    /// (with lazy refcounts) and the next writable open repairs it.
    /// </summary>
    private void FlushBeforeExit(ActiveMount entry)
    {
        try
        {
            entry.FileSystem.Volume.FlushAll();
        }
        catch (Exception e)
        {
            _logger.LogError(e, "Flushing {Image} before exit failed: {Message}", entry.Info.Image, e.Message);
        }
    }

    private void WaitClosed(ActiveMount entry)
    {
        try
        {
            if (!entry.Closed.Task.Wait(_settings.Mount.ToMountOptions(false).Timeout))
            {
                throw new MountException(ErrorCodes.Timeout, $"'{entry.Info.MountPoint}' is unmounted, but its image was not closed in time.");
            }
        }
        catch (AggregateException e)
        {
            throw new MountException(ErrorCodes.Io,
                $"'{entry.Info.MountPoint}' is unmounted, but closing '{entry.Info.Image}' failed: {e.GetBaseException().Message}", e.GetBaseException());
        }
    }

    private void DeleteOverlay(string? overlay)
    {
        if (overlay is null)
        {
            return;
        }

        try
        {
            File.Delete(overlay);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            _logger.LogWarning("Could not remove the overlay {Overlay}: {Message}", overlay, e.Message);
        }
    }

    private static string NormalizeDirectory(string path) => Path.TrimEndingDirectorySeparator(Path.GetFullPath(path));

    private static bool PathsEqual(string a, string b) =>
        string.Equals(a, b, OperatingSystem.IsWindows() ? StringComparison.OrdinalIgnoreCase : StringComparison.Ordinal);

    /// <summary>One row of the mount table.</summary>
    private sealed class ActiveMount(MountInfo info, IMountedFileSystem fileSystem, string requestedMountPoint, MountMode mode, string? overlayToDelete)
    {
        public MountInfo Info { get; } = info;
        public IMountedFileSystem FileSystem { get; } = fileSystem;
        public MountMode Mode { get; } = mode;
        public string? OverlayToDelete { get; } = overlayToDelete;

        /// <summary>Completes after the image is closed and the overlay removed; faults if the final flush failed.</summary>
        public TaskCompletionSource Closed { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);

        public bool Matches(string mountPoint) => PathsEqual(Info.MountPoint, mountPoint) || PathsEqual(requestedMountPoint, mountPoint);
    }
}

/// <summary>Foreground mounts for <c>qcow2mount mount --foreground</c>: no service, the caller's process serves the mount.</summary>
public static class ForegroundMount
{
    /// <summary>
    /// Mounts <paramref name="request"/> in this process and blocks until it is unmounted from outside, or until
    /// Ctrl+C / SIGTERM (then unmounts cleanly). Returns the mount once its image is closed.
    /// </summary>
    public static async Task<MountInfo> RunAsync(IFileSystemHost host, ServiceSettings settings, MountRequest request,
        Action<MountInfo>? mounted = null, ILoggerFactory? loggerFactory = null, CancellationToken cancellationToken = default)
    {
        using var stop = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        void OnSignal(PosixSignalContext context)
        {
            context.Cancel = true;
            stop.Cancel();
        }

        using var interrupt = PosixSignalRegistration.Create(PosixSignal.SIGINT, OnSignal);
        using var terminate = PosixSignalRegistration.Create(PosixSignal.SIGTERM, OnSignal);
        using var manager = new MountManager(host, settings, loggerFactory?.CreateLogger<MountManager>());
        return await manager.RunForegroundAsync(request, mounted, stop.Token).ConfigureAwait(false);
    }
}
