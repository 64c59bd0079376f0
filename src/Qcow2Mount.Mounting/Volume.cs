using System.Collections.Concurrent;
using System.Runtime.ExceptionServices;
using Qcow2Mount.Mounting.Partitions;
using Qcow2Mount.Qcow2;

namespace Qcow2Mount.Mounting;

/// <summary>
/// The platform-neutral file system every OS adapter presents: <c>disk.raw</c> for the active layer and,
/// when there are any, <c>snapshots/&lt;name&gt;.raw</c> read-only. Each disk with a partition table also shows
/// its partitions as files, numbered as Linux numbers them: <c>partitions/p1.raw</c> for <c>disk.raw</c>,
/// <c>snapshots/&lt;name&gt;.partitions/p1.raw</c> for a snapshot (see <see cref="PartitionDirectoryName"/>).
/// Owns the disks: <see cref="Dispose"/>
/// flushes a writable disk and disposes them all. Safe for concurrent calls; reads and writes take no lock.
/// </summary>
public sealed class Volume : IDisposable
{
    public const string DiskFileName = "disk.raw";
    public const string SnapshotDirectoryName = "snapshots";

    /// <summary>The directory of <c>disk.raw</c>'s partitions; a snapshot's sits beside it as <c>&lt;name&gt;.partitions</c>.</summary>
    public const string PartitionDirectoryName = "partitions";

    /// <summary>What a snapshot's partition directory ends in, replacing its file's <c>.raw</c>.</summary>
    public const string SnapshotPartitionSuffix = ".partitions";

    /// <summary>I/O size adapters advertise to readers (st_blksize, FUSE max_read).</summary>
    public const int PreferredIoSize = 1 << 20;

    private static readonly char[] PosixSeparators = ['/'];
    private static readonly char[] WindowsSeparators = ['/', '\\'];

    private readonly IVirtualDisk _disk;
    private readonly List<IVirtualDisk> _allDisks = [];
    private readonly ConcurrentDictionary<ulong, OpenHandle> _handles = new();
    private readonly int _nodeCount;
    private long _lastHandle;
    private readonly Lock _flushLock = new();

    /// <summary>Writes finished so far, and how many of them the last successful flush covered.</summary>
    private long _finishedWrites;
    private long _durableWrites;

    /// <summary>The first flush that failed: once set, every later flush fails too (see <see cref="Flush"/>).</summary>
    private VolumeException? _flushFailure;

    /// <summary>Set under the flush lock when Dispose starts: a late FlushAll then has nothing left to flush.</summary>
    private bool _flushesEnded;
    private int _disposed;

    public Volume(IVirtualDisk disk, VolumeOptions? options = null, IEnumerable<SnapshotDisk>? snapshots = null)
    {
        ArgumentNullException.ThrowIfNull(disk);
        options ??= new VolumeOptions();
        _disk = disk;
        IsReadOnly = options.ReadOnly || !disk.CanWrite;
        Label = options.Label;
        Timestamp = options.Timestamp ?? DateTimeOffset.UtcNow;
        ImagePath = options.ImagePath;

        ulong nextId = 1;
        Root = new VolumeNode(nextId++, "", "/", IsReadOnly, disk: null);
        Root.Add(new VolumeNode(nextId++, DiskFileName, "/" + DiskFileName, IsReadOnly, disk));
        _allDisks.Add(disk);
        var notes = new List<string>();
        var tables = new Dictionary<string, PartitionTable>(StringComparer.Ordinal);
        if (options.ShowPartitions)
        {
            AddPartitions(Root, PartitionDirectoryName, "/" + DiskFileName, disk, IsReadOnly, ref nextId, tables, notes);
        }

        var snapshotList = snapshots?.ToList() ?? [];
        if (snapshotList.Count > 0)
        {
            var directory = new VolumeNode(nextId++, SnapshotDirectoryName, "/" + SnapshotDirectoryName, IsReadOnly, null);
            Root.Add(directory);
            var fileNames = SnapshotNames.ToFileNames(snapshotList.Select(s => s.Name));
            foreach (var (snapshot, fileName) in snapshotList.Zip(fileNames).OrderBy(p => p.Second, StringComparer.Ordinal))
            {
                var file = new VolumeNode(nextId++, fileName, $"{directory.Path}/{fileName}", isReadOnly: true, snapshot.Disk);
                directory.Add(file);
                _allDisks.Add(snapshot.Disk);
                if (options.ShowPartitions)
                {
                    string partitionDirectory = fileName[..^".raw".Length] + SnapshotPartitionSuffix;
                    AddPartitions(directory, partitionDirectory, file.Path, snapshot.Disk, isReadOnly: true, ref nextId, tables, notes);
                }
            }

            directory.SortChildren();
        }

        Root.SortChildren();
        PartitionTables = tables;
        PartitionNotes = notes;
        _nodeCount = (int)(nextId - 1);
    }

    /// <summary>
    /// Reads <paramref name="disk"/>'s partition table and, when it has partitions, adds a directory named
    /// <paramref name="name"/> under <paramref name="parent"/> with one window file per data partition. What the
    /// mount's log should say about the table (none and why, a damaged primary GPT, entries cut) goes to <paramref name="notes"/>.
    /// </summary>
    private static void AddPartitions(VolumeNode parent, string name, string diskPath, IVirtualDisk disk, bool isReadOnly,
        ref ulong nextId, Dictionary<string, PartitionTable> tables, List<string> notes)
    {
        var table = PartitionTable.Read(disk);
        tables[diskPath] = table;
        notes.Add($"{diskPath}: {table.Describe()}");
        notes.AddRange((table.Scheme == PartitionScheme.None ? table.Notes.Skip(1) : table.Notes).Select(note => $"{diskPath}: {note}"));
        var partitions = table.DataPartitions.ToList();
        if (partitions.Count == 0)
        {
            return;
        }

        string path = (parent.Path == "/" ? "/" : parent.Path + "/") + name;
        var directory = new VolumeNode(nextId++, name, path, isReadOnly, disk: null);
        parent.Add(directory);
        foreach (var partition in partitions)
        {
            var window = new PartitionDisk(disk, partition.Offset, partition.Length);
            directory.Add(new VolumeNode(nextId++, partition.FileName, $"{path}/{partition.FileName}", isReadOnly, window, wholeDisk: disk));
        }

        directory.SortChildren();
    }

    /// <summary>
    /// The partition table of each disk file, by its path (<c>/disk.raw</c>, <c>/snapshots/s1.raw</c>), read when
    /// the volume was built; <see cref="PartitionScheme.None"/> with the reason for a disk without one.
    /// </summary>
    public IReadOnlyDictionary<string, PartitionTable> PartitionTables { get; }

    /// <summary>Lines for the mount's log: each disk's table (or why it has none) and anything doubtful in it.</summary>
    public IReadOnlyList<string> PartitionNotes { get; }

    public VolumeNode Root { get; }

    /// <summary>True when the active disk refuses writes (asked read-only, or the disk cannot write).</summary>
    public bool IsReadOnly { get; }

    public string Label { get; }

    /// <summary>The timestamp every node shows (the image's mtime at mount time).</summary>
    public DateTimeOffset Timestamp { get; }

    /// <summary>Full path of the image file shown, when known (see <see cref="VolumeOptions.ImagePath"/>).</summary>
    public string? ImagePath { get; }

    /// <summary>Number of open handles (for "in use" checks and tests).</summary>
    public int OpenHandleCount => _handles.Count;

    /// <summary>Finds a node by path; null when nothing has that path.</summary>
    public VolumeNode? Find(string path, PathStyle style = PathStyle.Posix)
    {
        ArgumentNullException.ThrowIfNull(path);
        var comparison = style == PathStyle.Windows ? StringComparison.OrdinalIgnoreCase : StringComparison.Ordinal;
        VolumeNode node = Root;
        foreach (var segment in path.Split(SeparatorsOf(style), StringSplitOptions.RemoveEmptyEntries))
        {
            VolumeNode? child = null;
            foreach (var candidate in node.Children)
            {
                if (string.Equals(candidate.Name, segment, comparison))
                {
                    child = candidate;
                    break;
                }
            }

            if (child is null)
            {
                return null;
            }

            node = child;
        }

        return node;
    }

    /// <summary>Finds a node by path or throws <see cref="VolumeErrorCode.NotFound"/> / <see cref="VolumeErrorCode.NotDirectory"/>.</summary>
    public VolumeNode Lookup(string path, PathStyle style = PathStyle.Posix)
    {
        ArgumentNullException.ThrowIfNull(path);
        if (Find(path, style) is { } node)
        {
            return node;
        }

        string parent = ParentOf(path, style);
        if (Find(parent, style) is { IsDirectory: false })
        {
            throw new VolumeException(VolumeErrorCode.NotDirectory, $"'{parent}' is a file, not a directory.");
        }

        throw new VolumeException(VolumeErrorCode.NotFound, $"'{path}' does not exist on this volume.");
    }

    /// <summary>Entries of the directory at <paramref name="path"/>, in name order.</summary>
    public IReadOnlyList<VolumeNode> List(string path, PathStyle style = PathStyle.Posix)
    {
        var node = Lookup(path, style);
        return node.IsDirectory
            ? node.Children
            : throw new VolumeException(VolumeErrorCode.NotDirectory, $"'{node.Path}' is a file, not a directory.");
    }

    /// <summary>Opens <paramref name="path"/>; see <see cref="Open(VolumeNode, VolumeAccess, VolumeShare)"/>.</summary>
    public ulong Open(string path, VolumeAccess access, VolumeShare share = VolumeShare.All, PathStyle style = PathStyle.Posix) =>
        Open(Lookup(path, style), access, share);

    /// <summary>
    /// Opens a handle (never 0). Write access is refused on read-only nodes and on directories; a handle that
    /// asks for data access conflicting with the share mode of another open handle gets a sharing violation.
    /// </summary>
    public ulong Open(VolumeNode node, VolumeAccess access, VolumeShare share = VolumeShare.All)
    {
        ArgumentNullException.ThrowIfNull(node);
        ObjectDisposedException.ThrowIf(_disposed != 0, this);
        if (access.HasFlag(VolumeAccess.Write))
        {
            ThrowIfNotWritable(node);
        }

        var handle = new OpenHandle(node, access, share);
        lock (node.OpenHandles)
        {
            // As in NT, handles without data access (attributes only) neither check nor count in share modes.
            if (access != VolumeAccess.None && node.OpenHandles.Any(other => other.Access != VolumeAccess.None && Conflicts(handle, other)))
            {
                throw new VolumeException(VolumeErrorCode.SharingViolation, $"'{node.Path}' is open with a share mode that refuses this access.");
            }

            node.OpenHandles.Add(handle);
        }

        ulong id = (ulong)Interlocked.Increment(ref _lastHandle);
        _handles[id] = handle;
        return id;
    }

    /// <summary>The node a handle is open on.</summary>
    public VolumeNode NodeOf(ulong handle) => Get(handle).Node;

    /// <summary>The access a handle was granted.</summary>
    public VolumeAccess AccessOf(ulong handle) => Get(handle).Access;

    /// <summary>Reads at <paramref name="offset"/>; fills the buffer except at the end of the file (returns 0 there).</summary>
    public int Read(ulong handle, long offset, Span<byte> buffer)
    {
        var open = Get(handle);
        var disk = DataDisk(open, VolumeAccess.Read);
        if (offset < 0)
        {
            throw new VolumeException(VolumeErrorCode.InvalidArgument, $"Negative offset {offset}.");
        }

        try
        {
            int total = 0;
            while (total < buffer.Length)
            {
                int read = disk.ReadAt(offset + total, buffer[total..]);
                if (read <= 0)
                {
                    break;
                }

                total += read;
            }

            return total;
        }
        catch (Exception e) when (e is Qcow2Exception or IOException)
        {
            throw VolumeException.From(e);
        }
    }

    /// <summary>
    /// Where the bytes a <see cref="Read"/> at <paramref name="offset"/> would return lie on the host, for adapters
    /// that can hand them to the kernel without copying (see <see cref="IHostMappedDisk"/>); the range is cut at
    /// the end of the file (<paramref name="count"/> 0 at or past it). False when the bytes must be read (and
    /// copied) with <see cref="Read"/> instead.
    /// </summary>
    public bool TryMapRead(ulong handle, long offset, int length, Span<HostSegment> segments, out int count)
    {
        count = 0;
        var open = Get(handle);
        var disk = DataDisk(open, VolumeAccess.Read);
        if (offset < 0 || length < 0 || disk is not IHostMappedDisk mapped)
        {
            return false;
        }

        int wanted = (int)Math.Clamp(disk.Length - offset, 0, length);
        try
        {
            return wanted == 0 || mapped.TryMapRead(offset, wanted, segments, out count);
        }
        catch (Exception e) when (e is Qcow2Exception or IOException)
        {
            throw VolumeException.From(e);
        }
    }

    /// <summary>
    /// Writes at <paramref name="offset"/>. The file cannot grow: a write crossing the end is cut short (the count
    /// says how much went in), one starting at or past the end fails with <see cref="VolumeErrorCode.NoSpace"/>.
    /// </summary>
    public int Write(ulong handle, long offset, ReadOnlySpan<byte> data)
    {
        var open = Get(handle);
        var disk = DataDisk(open, VolumeAccess.Write);
        if (offset < 0)
        {
            throw new VolumeException(VolumeErrorCode.InvalidArgument, $"Negative offset {offset}.");
        }

        if (data.IsEmpty)
        {
            return 0;
        }

        if (offset >= disk.Length)
        {
            throw new VolumeException(VolumeErrorCode.NoSpace, $"'{open.Node.Path}' has the fixed size {disk.Length}; cannot write at {offset}.");
        }

        int count = (int)Math.Min(data.Length, disk.Length - offset);
        try
        {
            disk.WriteAt(offset, data[..count]);
            return count;
        }
        catch (Exception e) when (e is Qcow2Exception or IOException)
        {
            throw VolumeException.From(e);
        }
        finally
        {
            // Counted once finished (a failed write may have changed some of it): fsync promises only the writes
            // that finished before it was called, so a flush covers exactly those counted when it starts.
            Interlocked.Increment(ref _finishedWrites);
        }
    }

    /// <summary>
    /// Makes [<paramref name="offset"/>, +<paramref name="length"/>) read as zeros without sending zero bytes:
    /// with <paramref name="deallocate"/> the image may give the clusters back (discard, a punched hole), otherwise
    /// it keeps them (write-zeroes). The range is cut at the end of the file, which never grows.
    /// (Linux: fallocate PUNCH_HOLE and ZERO_RANGE; Windows: FSCTL_SET_ZERO_DATA.)
    /// </summary>
    public void ZeroRange(ulong handle, long offset, long length, bool deallocate)
    {
        var open = Get(handle);
        var disk = DataDisk(open, VolumeAccess.Write);
        if (offset < 0 || length < 0)
        {
            throw new VolumeException(VolumeErrorCode.InvalidArgument, $"Invalid range {offset}+{length}.");
        }

        long end = Math.Min(disk.Length, offset > long.MaxValue - length ? long.MaxValue : offset + length);
        if (end <= offset)
        {
            return;
        }

        try
        {
            if (deallocate)
            {
                disk.Discard(offset, end - offset);
            }
            else
            {
                disk.WriteZeroes(offset, end - offset);
            }
        }
        catch (Exception e) when (e is Qcow2Exception or IOException)
        {
            throw VolumeException.From(e);
        }
        finally
        {
            Interlocked.Increment(ref _finishedWrites);
        }
    }

    /// <summary>
    /// Makes every completed write durable (fsync semantics: the whole disk, not just this handle's writes).
    /// Cheap when nothing was written since the last flush, so adapters may call it on every close.
    /// </summary>
    public void Flush(ulong handle)
    {
        var open = Get(handle);
        long wanted = Volatile.Read(ref _finishedWrites);
        if (open.Node.IsReadOnly || open.Node.WholeDisk != _disk)
        {
            return;
        }

        if (Volatile.Read(ref _durableWrites) >= wanted)
        {
            ThrowIfFlushFailed();
            return;
        }

        // One flush at a time; a caller that waited here returns at once if the flush it waited for started
        // after its writes had finished. No caller returns before a flush that covers its writes has succeeded.
        lock (_flushLock)
        {
            FlushLocked(wanted);
        }
    }

    /// <summary>
    /// Makes every completed write durable without a handle, for a host shutting down while files are still open
    /// (the mount is detached but its loop lives on): what the kernel acknowledged must not be lost with the process.
    /// </summary>
    public void FlushAll()
    {
        if (IsReadOnly)
        {
            return;
        }

        lock (_flushLock)
        {
            if (_flushesEnded)
            {
                return; // disposed meanwhile: its own final flush covered everything
            }

            FlushLocked(Volatile.Read(ref _finishedWrites));
        }
    }

    /// <summary>Under the flush lock: flushes the disk unless the writes up to <paramref name="wanted"/> are durable already.</summary>
    private void FlushLocked(long wanted)
    {
        ThrowIfFlushFailed();
        if (Volatile.Read(ref _durableWrites) >= wanted)
        {
            return;
        }

        long covered = Volatile.Read(ref _finishedWrites);
        try
        {
            _disk.Flush();
        }
        catch (Exception e) when (e is Qcow2Exception or IOException)
        {
            // Never retried: after a failed fsync Linux may have dropped the dirty pages it could not write and
            // marks them clean, so a second fsync would succeed without the data (PostgreSQL's "fsyncgate").
            var failure = VolumeException.From(e);
            _flushFailure = failure;
            throw failure;
        }

        Volatile.Write(ref _durableWrites, covered);
    }

    private void ThrowIfFlushFailed()
    {
        if (Volatile.Read(ref _flushFailure) is { } earlier)
        {
            throw new VolumeException(earlier.Code,
                $"An earlier flush failed ({earlier.Message}); writes made before it may not be on disk. Unmount, then check the image.", earlier);
        }
    }

    /// <summary>Closes a handle. Does not flush: adapters flush when their OS asks (close, fsync, FlushFileBuffers).</summary>
    public void Close(ulong handle)
    {
        if (!_handles.TryRemove(handle, out var open))
        {
            throw InvalidHandle(handle);
        }

        lock (open.Node.OpenHandles)
        {
            open.Node.OpenHandles.Remove(open);
        }
    }

    /// <summary>Sets the size of the file a handle is open on; see <see cref="SetLength(VolumeNode, long)"/>.</summary>
    public void SetLength(ulong handle, long length) => SetLength(Get(handle).Node, length);

    /// <summary>Disk files have the fixed size of the guest disk: only "set to the current size" succeeds.</summary>
    public void SetLength(VolumeNode node, long length)
    {
        ArgumentNullException.ThrowIfNull(node);
        if (node.IsDirectory)
        {
            throw new VolumeException(VolumeErrorCode.IsDirectory, $"'{node.Path}' is a directory.");
        }

        ThrowIfNotWritable(node);
        if (length < 0)
        {
            throw new VolumeException(VolumeErrorCode.InvalidArgument, $"Negative size {length}.");
        }

        if (length != node.Length)
        {
            throw new VolumeException(VolumeErrorCode.NotSupported, $"'{node.Path}' has the fixed size of the virtual disk ({node.Length} bytes).");
        }
    }

    /// <summary>Always refused: the volume has a fixed set of files. Throws the error to report.</summary>
    public void CreateFile(string path) => RefuseNewName(path);

    /// <summary>Always refused: the volume has a fixed set of directories. Throws the error to report.</summary>
    public void CreateDirectory(string path) => RefuseNewName(path);

    /// <summary>Always refused: files cannot be deleted. Throws the error to report.</summary>
    public void Delete(string path)
    {
        var node = Lookup(path);
        if (node.IsDirectory)
        {
            throw new VolumeException(VolumeErrorCode.IsDirectory, $"'{node.Path}' is a directory.");
        }

        RefuseChange(node);
    }

    /// <summary>Always refused: directories cannot be removed. Throws the error to report.</summary>
    public void RemoveDirectory(string path)
    {
        var node = Lookup(path);
        if (!node.IsDirectory)
        {
            throw new VolumeException(VolumeErrorCode.NotDirectory, $"'{node.Path}' is a file, not a directory.");
        }

        RefuseChange(node);
    }

    /// <summary>Always refused: names are fixed. Throws the error to report.</summary>
    public void Rename(string from, string to)
    {
        var node = Lookup(from);
        throw IsReadOnly
            ? new VolumeException(VolumeErrorCode.ReadOnly, $"The volume '{Label}' is mounted read-only.")
            : new VolumeException(VolumeErrorCode.AccessDenied, $"Cannot rename '{node.Path}' to '{to}': the names on this volume are fixed.");
    }

    /// <summary>Space figures for statfs and GetDiskFreeSpace: the disk size, nothing free (files cannot grow).</summary>
    public VolumeSpace GetSpace() => new(TotalBytes: _disk.Length, FreeBytes: 0, FileCount: _nodeCount);

    /// <summary>Flushes a writable disk, then disposes every disk, even when the flush fails (its error is then thrown).</summary>
    public void Dispose()
    {
        if (Interlocked.Exchange(ref _disposed, 1) != 0)
        {
            return;
        }

        ExceptionDispatchInfo? failure = null;
        lock (_flushLock)
        {
            // FlushAll (a forced unmount) may still be running; after this, it finds the volume disposed.
            _flushesEnded = true;
        }

        if (Volatile.Read(ref _flushFailure) is { } earlier)
        {
            // Not retried: the engine refuses a clean close after a failed flush too, so the image stays dirty.
            failure = ExceptionDispatchInfo.Capture(earlier);
        }
        else if (!IsReadOnly)
        {
            try
            {
                _disk.Flush();
            }
#pragma warning disable CA1031 // Closing goes on to the next disk; the first failure is rethrown once all are closed.
            catch (Exception e)
#pragma warning restore CA1031
            {
                failure = ExceptionDispatchInfo.Capture(e is Qcow2Exception or IOException ? VolumeException.From(e) : e);
            }
        }

        foreach (var disk in _allDisks)
        {
            try
            {
                disk.Dispose();
            }
#pragma warning disable CA1031 // Closing goes on to the next disk; the first failure is rethrown once all are closed.
            catch (Exception e)
#pragma warning restore CA1031
            {
                failure ??= ExceptionDispatchInfo.Capture(e);
            }
        }

        failure?.Throw();
    }

    private OpenHandle Get(ulong handle) =>
        _handles.TryGetValue(handle, out var open) ? open : throw InvalidHandle(handle);

    private static VolumeException InvalidHandle(ulong handle) =>
        new(VolumeErrorCode.InvalidHandle, $"Handle {handle} is not open on this volume.");

    private static IVirtualDisk DataDisk(OpenHandle open, VolumeAccess needed)
    {
        if (open.Node.Disk is not { } disk)
        {
            throw new VolumeException(VolumeErrorCode.IsDirectory, $"'{open.Node.Path}' is a directory.");
        }

        // A mask test, not HasFlag: unoptimized (Debug) code boxes both operands of HasFlag, and reads must not allocate.
        return (open.Access & needed) == needed
            ? disk
            : throw new VolumeException(VolumeErrorCode.AccessDenied, $"The handle on '{open.Node.Path}' was not opened for {needed.ToString().ToLowerInvariant()}.");
    }

    private static bool Conflicts(OpenHandle wanted, OpenHandle open) =>
        (wanted.Access.HasFlag(VolumeAccess.Read) && !open.Share.HasFlag(VolumeShare.Read))
        || (wanted.Access.HasFlag(VolumeAccess.Write) && !open.Share.HasFlag(VolumeShare.Write))
        || (open.Access.HasFlag(VolumeAccess.Read) && !wanted.Share.HasFlag(VolumeShare.Read))
        || (open.Access.HasFlag(VolumeAccess.Write) && !wanted.Share.HasFlag(VolumeShare.Write));

    private void ThrowIfNotWritable(VolumeNode node)
    {
        if (node.IsDirectory)
        {
            throw new VolumeException(VolumeErrorCode.IsDirectory, $"'{node.Path}' is a directory.");
        }

        if (node.IsReadOnly)
        {
            throw new VolumeException(VolumeErrorCode.ReadOnly, IsReadOnly
                ? $"The volume '{Label}' is mounted read-only."
                : $"'{node.Path}' is a read-only snapshot.");
        }
    }

    private void RefuseNewName(string path)
    {
        if (Find(path) is { } existing)
        {
            throw new VolumeException(VolumeErrorCode.Exists, $"'{existing.Path}' already exists.");
        }

        var parent = Lookup(ParentOf(path));
        if (!parent.IsDirectory)
        {
            throw new VolumeException(VolumeErrorCode.NotDirectory, $"'{parent.Path}' is a file, not a directory.");
        }

        RefuseChange(parent);
    }

    private void RefuseChange(VolumeNode node) => throw (IsReadOnly
        ? new VolumeException(VolumeErrorCode.ReadOnly, $"The volume '{Label}' is mounted read-only.")
        : new VolumeException(VolumeErrorCode.AccessDenied, $"'{node.Path}': the volume has a fixed set of files; only their contents can change."));

    private static char[] SeparatorsOf(PathStyle style) => style == PathStyle.Windows ? WindowsSeparators : PosixSeparators;

    internal static string ParentOf(string path, PathStyle style = PathStyle.Posix)
    {
        char[] separators = SeparatorsOf(style);
        string trimmed = path.TrimEnd(separators);
        int slash = trimmed.LastIndexOfAny(separators);
        return slash <= 0 ? "/" : trimmed[..slash];
    }
}

/// <summary>How adapters spell paths: POSIX ('/', case-sensitive) or Windows ('\\' or '/', ignoring case).</summary>
public enum PathStyle
{
    Posix,
    Windows,
}

/// <summary>Space figures of a volume (statfs, GetDiskFreeSpace).</summary>
public readonly record struct VolumeSpace(long TotalBytes, long FreeBytes, long FileCount);
