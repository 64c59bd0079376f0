using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;
using Qcow2Mount.Control.Protocol;
using Qcow2Mount.Mounting;
using Qcow2Mount.Service.Configuration;
using Qcow2Mount.Service.Logging;

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
                    _logger.StillOpen(entry.Info.MountPoint, entry.Info.Image);
                    FlushBeforeExit(entry);
                    return;
                }

                WaitClosed(entry);
            }
#pragma warning disable CA1031 // Shutdown goes on to the other mounts; this one is flushed and its failure logged.
            catch (Exception e)
#pragma warning restore CA1031
            {
                _logger.UnmountFailed(e, entry.Info.MountPoint, e.Message);
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

        var volumeRequest = new ImageVolumeRequest
        {
            Image = image,
            Mode = request.Mode ?? _settings.Mount.DefaultMode,
            Snapshot = request.Snapshot,
            OverlayPath = request.OverlayPath,
            KeepOverlay = request.KeepOverlay,
            ForceShare = request.ForceShare,
            Password = request.Password,
            OpenOptions = _settings.Qcow2.ToOpenOptions(writable: false),
        };
        var mode = volumeRequest.Mode;
        volumeRequest.Validate();
        // Windows: a drive letter (M:), nothing or * for the next free letter, or an NTFS folder; elsewhere a directory.
        string mountPoint = OperatingSystem.IsWindows()
            ? Mounting.Windows.MountPoints.Resolve(request.MountPoint, Mounting.Windows.MachineMountPointProbe.Instance).Path
            : NormalizeDirectory(request.MountPoint);
        // The adapter's rules, before the image is opened (an overlay created, a password's key derived) for nothing.
        _host.CheckMountPoint(mountPoint);

        _mountGate.Wait();
        try
        {
            CheckAgainstTable(image, mode, mountPoint);
            var opened = ImageVolumes.Open(volumeRequest);
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

            _logger.Mounted(image, info.Mode, info.MountPoint);
            if (opened.Repaired is { } repaired)
            {
                _logger.RepairedOnOpen(image, repaired);
            }

            foreach (string note in opened.Volume.PartitionNotes)
            {
                _logger.PartitionNote(info.MountPoint, note);
            }

            return entry;
        }
        finally
        {
            _mountGate.Release();
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

    private void OnUnmounted(ActiveMount entry, Task unmounted)
    {
        Exception? failure = unmounted.Exception?.GetBaseException();
        if (failure is not null)
        {
            _logger.CloseFailed(failure, entry.Info.Image, entry.Info.MountPoint, failure.Message);
        }

        DeleteOverlay(entry.OverlayToDelete);
        lock (_tableLock)
        {
            _mounts.Remove(entry);
        }

        _logger.Unmounted(entry.Info.MountPoint, entry.Info.Image);
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
#pragma warning disable CA1031 // The last attempt before exit: the failure is logged and the other mounts still flush.
        catch (Exception e)
#pragma warning restore CA1031
        {
            _logger.FlushBeforeExitFailed(e, entry.Info.Image, e.Message);
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
            _logger.OverlayNotRemoved(overlay, e.Message);
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
