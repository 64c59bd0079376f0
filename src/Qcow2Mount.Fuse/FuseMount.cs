using System.Diagnostics;
using System.Runtime.InteropServices;
using Qcow2Mount.Fuse.Native;
using Qcow2Mount.Mounting;

namespace Qcow2Mount.Fuse;

/// <summary>
/// One live FUSE mount: libfuse's multithreaded loop on a dedicated thread, serving <see cref="Volume"/> until the
/// file system is unmounted (by <see cref="Unmount"/> or from outside), then closing the volume.
/// </summary>
internal sealed unsafe class FuseMount : IMountedFileSystem
{
    /// <summary>Largest read and write request asked of the kernel (it may grant less).</summary>
    internal const uint MaxRequestSize = Volume.PreferredIoSize;

    /// <summary>
    /// Largest read request. A spliced reply passes through a pipe that libfuse sizes to the reply plus a page per
    /// buffer; a 1 MiB reply needs more than the 1 MiB an unprivileged pipe may hold (fs.pipe-max-size), and
    /// libfuse then copies every reply. 512 KiB replies fit, and readahead keeps several in flight.
    /// </summary>
    internal const uint MaxReadSize = 512 << 10;

    /// <summary>Asynchronous (readahead) requests the kernel may queue at once.</summary>
    internal const uint MaxBackgroundRequests = 64;

    private readonly MountOptions _options;
    private readonly Action<string>? _log;
    private readonly TaskCompletionSource _initialized = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private readonly TaskCompletionSource _unmounted = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private readonly Lock _stateLock = new();
    private readonly uint _uid = LibC.GetUid();
    private readonly uint _gid = LibC.GetGid();
    private GCHandle _self;
    private nint _fuse;
    private bool _ownsVolume;
    private bool _loopEnded;
    private int _zeroFile = -1;
    private readonly List<ReplyBuffer> _replyBuffers = [];

    private FuseMount(Volume volume, string mountPoint, MountOptions options, Action<string>? log)
    {
        Volume = volume;
        MountPoint = mountPoint;
        _options = options;
        _log = log;
        ReadOnly = options.ReadOnly || volume.IsReadOnly;
    }

    public string MountPoint { get; }

    public Volume Volume { get; }

    public Task Unmounted => _unmounted.Task;

    /// <summary>Mounted read-only (asked for, or the volume is): write opens get EROFS.</summary>
    internal bool ReadOnly { get; }

    /// <summary>Reads may be answered with descriptors (splice) rather than copies.</summary>
    internal bool ZeroCopyReads => _zeroFile >= 0;

    /// <summary>
    /// An in-memory file of <see cref="MaxReadSize"/> zero bytes that is all hole: spliced for ranges that read
    /// as zeros, it hands the kernel the shared zero page instead of a buffer we would fill.
    /// </summary>
    internal int ZeroFile => _zeroFile;

    /// <summary>
    /// Most reply buffers one mount creates. libfuse keeps its threads (10 at most by default) for the mount's
    /// life; this bounds the memory should a libfuse version replace them, and reads then fall back to malloc.
    /// </summary>
    private const int MaxReplyBuffers = 64;

    [ThreadStatic]
    private static ReplyBuffer? t_replyBuffer;

    /// <summary>The mount for which this thread could not have a reply buffer: it does not ask again on every read.</summary>
    [ThreadStatic]
    private static FuseMount? t_noReplyBuffer;

    private bool _repliesSpliced;

    /// <summary>
    /// The calling FUSE thread's reply buffer for this mount, created on first use; null when zero-copy reads are
    /// off, the kernel does not take spliced replies (libfuse would copy the buffer once more), or no buffer can be
    /// had. A thread answers one request at a time, and libfuse has spliced (copied) the previous reply before the
    /// thread takes the next request, so one buffer per thread is enough.
    /// </summary>
    internal ReplyBuffer? ThreadReplyBuffer()
    {
        var buffer = t_replyBuffer;
        if (buffer is not null && buffer.Owner == this)
        {
            return buffer;
        }

        if (!Volatile.Read(ref _repliesSpliced) || t_noReplyBuffer == this)
        {
            return null;
        }

        lock (_replyBuffers)
        {
#pragma warning disable CA2000 // Wrong: the new buffer joins _replyBuffers, which Dispose empties and disposes.
            if (_replyBuffers.Count >= MaxReplyBuffers || (buffer = ReplyBuffer.TryCreate(this, (int)MaxReadSize)) is null)
#pragma warning restore CA2000
            {
                t_noReplyBuffer = this;
                return null;
            }

            _replyBuffers.Add(buffer);
        }

        t_replyBuffer = buffer;
        return buffer;
    }

    /// <summary>Init granted spliced replies (FUSE_CAP_SPLICE_WRITE): reply buffers are worth having.</summary>
    internal void OnSpliceGranted() => Volatile.Write(ref _repliesSpliced, true);

    /// <summary>Mounts and returns once the kernel has connected (libfuse ran init).</summary>
    internal static FuseMount Start(Volume volume, string mountPoint, MountOptions options, Action<string>? log)
    {
        var mount = new FuseMount(volume, MountTable.Check(mountPoint), options, log);
        mount.MountAndServe();
        return mount;
    }

    public void Unmount(bool force = false)
    {
        bool expectEnd = true;
        lock (_stateLock)
        {
            if (!_loopEnded)
            {
                expectEnd = RequestUnmount(force);
            }
        }

        bool ended = Task.WaitAny([_unmounted.Task], expectEnd ? _options.Timeout : TimeSpan.Zero) == 0;
        if (ended)
        {
            // Rethrows the error of the final flush, if closing the volume failed.
            _unmounted.Task.GetAwaiter().GetResult();
        }
        else if (!force)
        {
            throw new VolumeException(VolumeErrorCode.Busy, $"'{MountPoint}' did not stop within {_options.Timeout.TotalSeconds:0} s.");
        }
    }

    /// <summary>Unmounts, cutting off open files if a plain unmount is refused as busy.</summary>
    public void Dispose()
    {
        try
        {
            Unmount(force: false);
        }
        catch (VolumeException e) when (e.Code == VolumeErrorCode.Busy)
        {
            Unmount(force: true);
        }
    }

    /// <summary>The kernel connection this mount serves, recorded once it is live; null before.</summary>
    private MountTable.Entry? _connection;

    internal void OnInitialized() => _initialized.TrySetResult();

    internal void Report(Exception exception) => _log?.Invoke($"qcow2mount FUSE '{MountPoint}': {exception}");

    /// <summary>Fills a stat for <paramref name="node"/>: owned by the mounting user, one fixed timestamp.</summary>
    internal void Fill(Stat* stat, VolumeNode node)
    {
        var time = new TimeSpec
        {
            Seconds = Volume.Timestamp.ToUnixTimeSeconds(),
            Nanoseconds = Volume.Timestamp.UtcTicks % TimeSpan.TicksPerSecond * 100,
        };
        stat->Inode = node.Id;
        stat->Mode = (node.IsDirectory ? Stat.DirectoryType : Stat.RegularType) | (uint)node.Permissions;
        stat->LinkCount = node.IsDirectory ? 2 + (ulong)node.Children.Count(child => child.IsDirectory) : 1;
        stat->Uid = _uid;
        stat->Gid = _gid;
        stat->Size = node.Length;
        stat->BlockSize = Volume.PreferredIoSize;
        stat->Blocks = (node.Length + 511) / 512;
        stat->AccessTime = time;
        stat->ModifyTime = time;
        stat->ChangeTime = time;
    }

    private void MountAndServe()
    {
        _self = GCHandle.Alloc(this);
        if (_options.ZeroCopyReads)
        {
            _zeroFile = CreateZeroFile();
        }

        try
        {
            _fuse = CreateFuse();
            if (LibFuse.Mount(_fuse, MountPoint) != 0)
            {
                LibFuse.Destroy(_fuse);
                throw new VolumeException(VolumeErrorCode.IoError, $"libfuse could not mount at '{MountPoint}' (its reason is on standard error).");
            }
        }
        catch
        {
            _self.Free();
            CloseReplyFiles();
            throw;
        }

        new Thread(Serve) { IsBackground = true, Name = "FUSE loop" }.Start();
        bool live = Task.WaitAny([_initialized.Task, _unmounted.Task], _options.Timeout) == 0;
        lock (_stateLock)
        {
            _ownsVolume = live && !_loopEnded;
        }

        if (_ownsVolume)
        {
            // This mount's own connection: after a lazy detach from outside, the path may come to hold another one.
            _connection = MountTable.Find(MountPoint);
            // Requests can be 1 MiB, but buffered reads only get as big as the readahead window, and only a window
            // of several requests keeps more than one thread busy.
            if (_options.ReadaheadBytes > 0 && !MountTable.TrySetReadahead(MountPoint, _options.ReadaheadBytes))
            {
                _log?.Invoke($"qcow2mount FUSE '{MountPoint}': readahead stays at the kernel's default (setting it needs root).");
            }

            return;
        }

        // The kernel never connected: take the mount down, and leave the volume to the caller.
        Unmount(force: true);
        throw new VolumeException(VolumeErrorCode.IoError, $"The FUSE file system at '{MountPoint}' did not start.");
    }

    private nint CreateFuse()
    {
        var mountOptions = new List<string>
        {
            "fsname=qcow2mount", "subtype=qcow2mount", "default_permissions", $"max_read={MaxReadSize}",
        };
        if (ReadOnly)
        {
            mountOptions.Add("ro");
        }

        if (_options.AllowOther)
        {
            mountOptions.Add("allow_other");
        }

        mountOptions.AddRange(_options.FuseOptions);
        string[] arguments = ["qcow2mount", "-o", string.Join(',', mountOptions)];

        var values = (byte**)NativeMemory.AllocZeroed((nuint)(arguments.Length + 1), (nuint)sizeof(byte*));
        try
        {
            for (int i = 0; i < arguments.Length; i++)
            {
                values[i] = (byte*)Marshal.StringToCoTaskMemUTF8(arguments[i]);
            }

            var args = new FuseArgs { Count = arguments.Length, Values = values, Allocated = 0 };
            var operations = FuseCallbacks.Table;
            nint fuse = LibFuse.New(&args, &operations, (nuint)sizeof(FuseOperations), GCHandle.ToIntPtr(_self));
            // libfuse may have replaced the argument vector with its own copy; that one is its to free.
            LibFuse.FreeArgs(&args);
            return fuse != 0
                ? fuse
                : throw new VolumeException(VolumeErrorCode.InvalidArgument, $"libfuse refused the options '{arguments[2]}' (its reason is on standard error).");
        }
        finally
        {
            for (int i = 0; i < arguments.Length; i++)
            {
                Marshal.FreeCoTaskMem((nint)values[i]);
            }

            NativeMemory.Free(values);
        }
    }

    /// <summary>The loop thread: serve until unmounted, release libfuse, then close the volume.</summary>
    private void Serve()
    {
        int result;
        nint config = LibFuse.LoopConfigCreate();
        try
        {
            if (_options.MaxThreads > 0)
            {
                LibFuse.LoopConfigSetMaxThreads(config, (uint)_options.MaxThreads);
            }

            result = LibFuse.LoopMultiThreaded(_fuse, config);
        }
        finally
        {
            LibFuse.LoopConfigDestroy(config);
            LibFuse.Unmount(_fuse);
            LibFuse.Destroy(_fuse);
            CloseReplyFiles();
        }

        bool closeVolume;
        lock (_stateLock)
        {
            _loopEnded = true;
            closeVolume = _ownsVolume;
        }

        if (result != 0)
        {
            _log?.Invoke($"qcow2mount FUSE '{MountPoint}': the request loop ended with error {result}.");
        }

        try
        {
            if (closeVolume)
            {
                Volume.Dispose();
            }

            _unmounted.TrySetResult();
        }
#pragma warning disable CA1031 // The serving thread's end: any failure goes to whoever awaits Unmounted.
        catch (Exception e)
#pragma warning restore CA1031
        {
            _unmounted.TrySetException(e);
        }
        finally
        {
            _self.Free();
        }
    }

    /// <summary>
    /// Asks the kernel to unmount. With <paramref name="force"/>, first cuts the connection (fusectl) so open files
    /// cannot hold the file system, then detaches it lazily. Returns whether the loop should end promptly: false
    /// when a forced detach left files open that keep the file system alive until they are closed.
    /// </summary>
    private bool RequestUnmount(bool force)
    {
        var connection = _connection ?? MountTable.Find(MountPoint);
        bool aborted = force && connection is not null && MountTable.TryAbortConnection(connection);
        if (_connection is not null && MountTable.Find(MountPoint)?.Device != _connection.Device)
        {
            // Detached from outside (fusermount3 -u -z) while files stayed open: nothing of ours is at the path any
            // more, and whatever is mounted there now must be left alone. The loop ends with the last open file.
            if (force || Volume.OpenHandleCount == 0)
            {
                return aborted || Volume.OpenHandleCount == 0;
            }

            throw new VolumeException(VolumeErrorCode.Busy, $"'{MountPoint}' was detached, but files are still open on it; close them, or unmount with force.");
        }

        var (exitCode, error) = Fusermount(force ? ["-u", "-z", MountPoint] : ["-u", MountPoint]);
        if (force)
        {
            return aborted || Volume.OpenHandleCount == 0;
        }

        if (exitCode == 0 || MountTable.Find(MountPoint) is null)
        {
            return true;
        }

        throw error.Contains("busy", StringComparison.OrdinalIgnoreCase)
            ? new VolumeException(VolumeErrorCode.Busy, $"'{MountPoint}' is in use; close the files open on it, or unmount with force.")
            : new VolumeException(VolumeErrorCode.IoError, $"fusermount3 could not unmount '{MountPoint}': {error.Trim()}");
    }

    /// <summary>The zero file, or -1 (zero-copy reads then stay off) when memfd is unavailable.</summary>
    private int CreateZeroFile()
    {
        int fd = LibC.MemfdCreate("qcow2mount-zeros", LibC.MemfdCloseOnExec);
        if (fd >= 0 && LibC.FTruncate(fd, MaxReadSize) == 0)
        {
            return fd;
        }

        _log?.Invoke($"qcow2mount FUSE '{MountPoint}': no in-memory zero file (errno {Marshal.GetLastPInvokeError()}); reads are copied.");
        if (fd >= 0)
        {
            LibC.Close(fd);
        }

        return -1;
    }

    /// <summary>Closes the zero file and the reply buffers; only once no FUSE thread is left to use them.</summary>
    private void CloseReplyFiles()
    {
        if (_zeroFile >= 0)
        {
            LibC.Close(_zeroFile);
            _zeroFile = -1;
        }

        lock (_replyBuffers)
        {
            foreach (var buffer in _replyBuffers)
            {
                buffer.Dispose();
            }

            _replyBuffers.Clear();
        }
    }

    private static (int ExitCode, string Error) Fusermount(IEnumerable<string> arguments)
    {
        var start = new ProcessStartInfo("fusermount3") { RedirectStandardError = true, UseShellExecute = false };
        foreach (string argument in arguments)
        {
            start.ArgumentList.Add(argument);
        }

        using var process = Process.Start(start)!;
        string error = process.StandardError.ReadToEnd();
        process.WaitForExit();
        return (process.ExitCode, error);
    }
}
