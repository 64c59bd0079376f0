using Microsoft.Win32.SafeHandles;
using Qcow2Mount.Qcow2;

namespace Qcow2Mount.Mounting.Tests.Doubles;

/// <summary>A raw image file as an <see cref="IVirtualDisk"/>, with positional I/O like the real engine's host files.</summary>
internal sealed class RawFileDisk : IVirtualDisk
{
    private readonly SafeFileHandle _file;

    public RawFileDisk(string path, bool writable)
    {
        _file = File.OpenHandle(path, FileMode.Open, writable ? FileAccess.ReadWrite : FileAccess.Read, FileShare.ReadWrite);
        CanWrite = writable;
        Length = RandomAccess.GetLength(_file);
    }

    public long Length { get; }

    public bool CanWrite { get; }

    public bool IsDisposed { get; private set; }

    public int ReadAt(long offset, Span<byte> buffer)
    {
        if (offset >= Length)
        {
            return 0;
        }

        int total = 0;
        int wanted = (int)Math.Min(buffer.Length, Length - offset);
        while (total < wanted)
        {
            int read = RandomAccess.Read(_file, buffer[total..wanted], offset + total);
            if (read == 0)
            {
                break;
            }

            total += read;
        }

        return total;
    }

    public void WriteAt(long offset, ReadOnlySpan<byte> data)
    {
        if (!CanWrite)
        {
            throw new Qcow2Exception(Qcow2ErrorCode.ReadOnly, "The raw file is open read-only.");
        }

        RandomAccess.Write(_file, data, offset);
    }

    public void WriteZeroes(long offset, long length) => WriteAt(offset, new byte[length]);

    public void Discard(long offset, long length) => WriteZeroes(offset, length);

    public void Flush() => RandomAccess.FlushToDisk(_file);

    public void Dispose()
    {
        IsDisposed = true;
        _file.Dispose();
    }
}
