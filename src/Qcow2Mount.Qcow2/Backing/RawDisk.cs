using Qcow2Mount.Qcow2.Storage;

namespace Qcow2Mount.Qcow2.Backing;

/// <summary>A raw image file as an <see cref="IVirtualDisk"/> (backing files, external data files).</summary>
public sealed class RawDisk : IVirtualDisk, IHostMappedDisk
{
    private readonly IHostFile _file;

    public RawDisk(IHostFile file)
    {
        _file = file;
    }

    public static RawDisk Open(string path, bool writable, bool lockReader = false, bool forceShare = false) =>
        new(HostFile.Open(path, writable, lockReader: lockReader, forceShare: forceShare));

    public string Path => _file.Path;

    /// <summary>The file itself, for allocation queries (<see cref="Mapping.DiskMap"/>).</summary>
    internal IHostFile File => _file;

    public long Length => _file.Length;
    public bool CanWrite => _file.CanWrite;

    public int ReadAt(long offset, Span<byte> buffer)
    {
        if (offset >= Length)
        {
            return 0;
        }

        var target = buffer[..(int)Math.Min(buffer.Length, Length - offset)];
        int n = _file.ReadAt(offset, target);
        target[n..].Clear();
        return target.Length;
    }

    /// <inheritdoc/>
    public bool TryMapRead(long offset, int length, Span<HostSegment> segments, out int count)
    {
        count = 0;
        if (CanWrite || _file is not HostFile host || offset < 0 || length <= 0 || offset > Length - length)
        {
            return false;
        }

        // The length was read at open: a read-only file is not expected to change under us, and a file that did
        // shrink reads as zeros past its end here too.
        return HostSegments.Append(segments, ref count, new HostSegment(host.Handle, offset, length));
    }

    public void WriteAt(long offset, ReadOnlySpan<byte> data)
    {
        EnsureWritable();
        if (offset < 0 || offset + data.Length > Length)
        {
            throw new Qcow2Exception(Qcow2ErrorCode.InvalidArgument, $"write at {offset} (+{data.Length}) is past the end of the disk");
        }

        _file.WriteAt(offset, data);
    }

    public void WriteZeroes(long offset, long length)
    {
        EnsureWritable();
        var zeros = new byte[(int)Math.Min(length, 1 << 20)];
        for (long done = 0; done < length; done += zeros.Length)
        {
            _file.WriteAt(offset + done, zeros.AsSpan(0, (int)Math.Min(zeros.Length, length - done)));
        }
    }

    public void Discard(long offset, long length)
    {
        EnsureWritable();
        _file.PunchHole(offset, length);
    }

    public void Flush()
    {
        if (CanWrite)
        {
            _file.Flush();
        }
    }

    public void Dispose() => _file.Dispose();

    private void EnsureWritable()
    {
        if (!CanWrite)
        {
            throw new Qcow2Exception(Qcow2ErrorCode.ReadOnly, $"{Path}: opened read-only");
        }
    }
}
