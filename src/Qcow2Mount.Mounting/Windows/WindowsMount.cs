namespace Qcow2Mount.Mounting.Windows;

/// <summary>
/// A live Windows mount, whichever driver serves it (WinFsp, Dokan): closes the volume once the driver reports the
/// file system gone, refuses a plain unmount while files are open, and stops the driver once. The driver-specific
/// part is only <see cref="StopDriver"/>.
/// </summary>
public abstract class WindowsMount : IMountedFileSystem
{
    private readonly WindowsVolume _volume;
    private readonly Task _unmounted;
    private int _stopped;

    /// <param name="volume">The volume the driver serves; disposed when <paramref name="driverUnmounted"/> completes.</param>
    /// <param name="driverUnmounted">Completes when the driver reports the file system unmounted.</param>
    /// <param name="mountPoint">The mount point as mounted.</param>
    /// <param name="timeout">How long <see cref="Unmount"/> waits for the driver and the volume.</param>
    protected WindowsMount(WindowsVolume volume, Task driverUnmounted, string mountPoint, TimeSpan timeout)
    {
        ArgumentNullException.ThrowIfNull(volume);
        ArgumentNullException.ThrowIfNull(driverUnmounted);
        _volume = volume;
        Timeout = timeout;
        MountPoint = mountPoint;
        _unmounted = driverUnmounted.ContinueWith(_ => Volume.Dispose(), CancellationToken.None,
            TaskContinuationOptions.ExecuteSynchronously, TaskScheduler.Default);
    }

    public string MountPoint { get; }

    public Volume Volume => _volume.Volume;

    public Task Unmounted => _unmounted;

    /// <summary>How long an unmount waits for the driver and the volume.</summary>
    protected TimeSpan Timeout { get; }

    public void Unmount(bool force = false)
    {
        if (Volatile.Read(ref _stopped) != 0)
        {
            return;
        }

        if (!force && Volume.OpenHandleCount > 0)
        {
            throw new VolumeException(VolumeErrorCode.Busy, $"{MountPoint} has {Volume.OpenHandleCount} open file(s).");
        }

        if (Interlocked.Exchange(ref _stopped, 1) == 0)
        {
            StopDriver();
            _unmounted.Wait(Timeout);
        }
    }

    public void Dispose()
    {
        Unmount(force: true);
        GC.SuppressFinalize(this);
    }

    /// <summary>Removes the mount point and stops the driver's dispatcher; called once, by the first unmount.</summary>
    protected abstract void StopDriver();
}
