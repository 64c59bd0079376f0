namespace Qcow2Mount.Qcow2.Storage;

/// <summary>
/// An in-memory host file for crash tests. It keeps what a disk would keep after power loss (the bytes as of
/// the last <see cref="Flush"/>) apart from what the OS had only cached (writes since), can stop the world at
/// the Nth write, and can produce the file as a crash would leave it: without the unflushed writes, with all
/// of them, or with the last one torn.
/// </summary>
public sealed class FaultInjectingFile : IHostFile
{
    private readonly Lock _lock = new();
    private readonly List<(long Offset, byte[] Data)> _pending = [];
    private byte[] _durable;
    private long _durableLength;
    private byte[] _current;
    private long _length;
    private int _writes;

    public FaultInjectingFile(string path, byte[] content, bool canWrite = true)
    {
        ArgumentNullException.ThrowIfNull(content);
        Path = path;
        CanWrite = canWrite;
        _durable = (byte[])content.Clone();
        _durableLength = content.Length;
        _current = (byte[])content.Clone();
        _length = content.Length;
    }

    public string Path { get; }
    public bool CanWrite { get; }
    public long Length
    {
        get
        {
            lock (_lock)
            {
                return _length;
            }
        }
    }

    /// <summary>Fail every write from the Nth one on (1-based), as if the machine stopped; null: never.</summary>
    public int? CrashAtWrite { get; set; }

    /// <summary>Fail only the Nth write (1-based) with an I/O error, writing nothing, and carry on (a full disk, a bad sector); null: never.</summary>
    public int? FailWriteAt { get; set; }

    /// <summary>Host writes so far (including those to files that <see cref="CrashesWith"/> this one).</summary>
    public int WriteCount => _writes;

    /// <summary>Fail the next flush with EIO, losing the writes it was to make durable (as Linux does).</summary>
    public bool FailNextFlush { get; set; }

    /// <summary>Flushes (fsyncs) so far.</summary>
    public int FlushCount { get; private set; }

    public bool Crashed { get; private set; }

    public int ReadAt(long offset, Span<byte> buffer)
    {
        lock (_lock)
        {
            if (offset >= _length)
            {
                return 0;
            }

            int n = (int)Math.Min(buffer.Length, _length - offset);
            _current.AsSpan((int)offset, n).CopyTo(buffer);
            return n;
        }
    }

    /// <summary>
    /// Another file on the same machine: writes here also count towards its <see cref="CrashAtWrite"/>, and this
    /// file stops when that one does (an image and its external data file crash together).
    /// </summary>
    public FaultInjectingFile? CrashesWith { get; init; }

    public void WriteAt(long offset, ReadOnlySpan<byte> data)
    {
        lock (_lock)
        {
            _writes++;
            if (Crashed || (CrashAtWrite is { } n && _writes >= n) || (CrashesWith?.CountForeignWrite() ?? false))
            {
                Crashed = true;
                throw new IOException("simulated crash: the machine stopped");
            }

            if (FailWriteAt == _writes)
            {
                throw new IOException("simulated I/O error: no space left on device");
            }

            EnsureCapacity(ref _current, offset + data.Length);
            data.CopyTo(_current.AsSpan((int)offset));
            _length = Math.Max(_length, offset + data.Length);
            _pending.Add((offset, data.ToArray()));
        }
    }

    /// <summary>A write to a file that <see cref="CrashesWith"/> this one: counts it and tells whether the machine stopped.</summary>
    private bool CountForeignWrite()
    {
        lock (_lock)
        {
            _writes++;
            if (CrashAtWrite is { } n && _writes >= n)
            {
                Crashed = true;
            }

            return Crashed;
        }
    }

    public void SetLength(long length)
    {
        lock (_lock)
        {
            EnsureCapacity(ref _current, length);
            if (length < _length)
            {
                _current.AsSpan((int)length, (int)(_length - length)).Clear();
            }

            _length = length;
        }
    }

    public void Flush()
    {
        lock (_lock)
        {
            if (Crashed || (CrashesWith?.Crashed ?? false))
            {
                throw new IOException("simulated crash: the machine stopped");
            }

            FlushCount++;
            if (FailNextFlush)
            {
                // Linux after a writeback error: the pages that failed are dropped from the dirty set, so what was
                // pending never becomes durable, and the next fsync succeeds without it.
                FailNextFlush = false;
                _pending.Clear();
                throw new IOException("simulated fsync error: Input/output error", 5);
            }

            foreach (var (offset, data) in _pending)
            {
                EnsureCapacity(ref _durable, offset + data.Length);
                data.CopyTo(_durable, offset);
                _durableLength = Math.Max(_durableLength, offset + data.Length);
            }

            _pending.Clear();
        }
    }

    public void PunchHole(long offset, long length)
    {
        // Punching is an optimisation; the crash model keeps the bytes (a real disk may do either).
    }

    public void Dispose()
    {
    }

    public enum CrashKind
    {
        /// <summary>Every write since the last flush is lost.</summary>
        DropUnflushed,
        /// <summary>Every write reached the disk.</summary>
        KeepAll,
        /// <summary>Unflushed writes are lost except the first whole sectors of the last one's first half.</summary>
        TearLast,
    }

    /// <summary>The file's bytes as a crash of the given kind would leave them.</summary>
    public byte[] CrashImage(CrashKind kind)
    {
        lock (_lock)
        {
            switch (kind)
            {
                case CrashKind.KeepAll:
                    return _current.AsSpan(0, (int)_length).ToArray();
                case CrashKind.TearLast when _pending.Count > 0:
                    var torn = _durable.AsSpan(0, (int)_durableLength).ToArray();
                    // Disks write a sector atomically: the tear falls on a 512-byte boundary of the file.
                    var (offset, data) = _pending[^1];
                    int kept = (int)Math.Max(0, ((offset + (data.Length / 2)) / 512 * 512) - offset);
                    EnsureCapacity(ref torn, offset + kept);
                    data.AsSpan(0, kept).CopyTo(torn.AsSpan((int)offset));
                    return torn.AsSpan(0, (int)Math.Max(_durableLength, offset + kept)).ToArray();
                default:
                    return _durable.AsSpan(0, (int)_durableLength).ToArray();
            }
        }
    }

    private static void EnsureCapacity(ref byte[] buffer, long length)
    {
        if (length > buffer.Length)
        {
            Array.Resize(ref buffer, (int)Math.Max(length, Math.Min(int.MaxValue - 64, buffer.Length * 2L)));
        }
    }
}
