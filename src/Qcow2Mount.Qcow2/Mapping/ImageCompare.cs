using System.Buffers;

namespace Qcow2Mount.Qcow2.Mapping;

/// <summary>
/// <c>qemu-img compare A B</c>: whether two disks show the same guest bytes. Runs both disks' block status first:
/// ranges that read as zeros in both are not read, a range allocated in one only is checked for zeros, and only
/// ranges allocated in both are read from both. Without strict mode a size difference is allowed when the longer
/// disk's extra bytes are all zeros; with it, a size difference (or a range allocated in one disk and not the other)
/// is a difference.
/// </summary>
public static class ImageCompare
{
    /// <summary>The most read at once from each disk (qemu-img's IO_BUF_SIZE).</summary>
    private const int ChunkBytes = 2 << 20;

    private const int Sector = 512;

    public static ImageCompareResult Compare(IVirtualDisk first, IVirtualDisk second, bool strict = false, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(first);
        ArgumentNullException.ThrowIfNull(second);
        var messages = new List<string>();
        if (strict && first.Length != second.Length)
        {
            messages.Add("Strict mode: Image size mismatch!");
            return new ImageCompareResult(false, null, messages);
        }

        long common = Math.Min(first.Length, second.Length);
        byte[] a = ArrayPool<byte>.Shared.Rent(ChunkBytes);
        byte[] b = ArrayPool<byte>.Shared.Rent(ChunkBytes);
        try
        {
            long offset = 0;
            while (offset < common)
            {
                cancellationToken.ThrowIfCancellationRequested();
                var one = DiskMap.BlockStatus(first, offset, common - offset);
                var two = DiskMap.BlockStatus(second, offset, common - offset);
                long chunk = Math.Min(Math.Min(one.Length, two.Length), ChunkBytes);
                if (strict && (one.Present != two.Present || one.Zero != two.Zero))
                {
                    messages.Add($"Strict mode: Offset {offset} block status mismatch!");
                    return new ImageCompareResult(false, offset, messages);
                }

                long? mismatch = null;
                if (one.Zero && two.Zero)
                {
                    // Both read as zeros by their metadata: nothing to read.
                }
                else if (one.Present == two.Present)
                {
                    var x = a.AsSpan(0, (int)chunk);
                    var y = b.AsSpan(0, (int)chunk);
                    ReadFully(first, offset, x);
                    ReadFully(second, offset, y);
                    mismatch = FirstDifferentSector(x, y);
                }
                else
                {
                    var present = one.Present ? first : second;
                    var x = a.AsSpan(0, (int)chunk);
                    ReadFully(present, offset, x);
                    mismatch = FirstNonZero(x);
                }

                if (mismatch is { } at)
                {
                    messages.Add($"Content mismatch at offset {offset + at}!");
                    return new ImageCompareResult(false, offset + at, messages);
                }

                offset += chunk;
            }

            if (first.Length != second.Length)
            {
                messages.Add("Warning: Image size mismatch!");
                var longer = first.Length > second.Length ? first : second;
                while (offset < longer.Length)
                {
                    cancellationToken.ThrowIfCancellationRequested();
                    var status = DiskMap.BlockStatus(longer, offset, longer.Length - offset);
                    long chunk = Math.Min(status.Length, ChunkBytes);
                    if (!status.Zero)
                    {
                        var x = a.AsSpan(0, (int)chunk);
                        ReadFully(longer, offset, x);
                        if (FirstNonZero(x) is { } at)
                        {
                            messages.Add($"Content mismatch at offset {offset + at}!");
                            return new ImageCompareResult(false, offset + at, messages);
                        }
                    }

                    offset += chunk;
                }
            }

            messages.Add("Images are identical.");
            return new ImageCompareResult(true, null, messages);
        }
        finally
        {
            ArrayPool<byte>.Shared.Return(a);
            ArrayPool<byte>.Shared.Return(b);
        }
    }

    internal static void ReadFully(IVirtualDisk disk, long offset, Span<byte> buffer)
    {
        int total = 0;
        while (total < buffer.Length)
        {
            int n = disk.ReadAt(offset + total, buffer[total..]);
            if (n <= 0)
            {
                buffer[total..].Clear();
                return;
            }

            total += n;
        }
    }

    /// <summary>The start of the first 512-byte sector where the buffers differ, as qemu-img's compare_buffers finds it.</summary>
    internal static long? FirstDifferentSector(ReadOnlySpan<byte> x, ReadOnlySpan<byte> y)
    {
        int index = x.CommonPrefixLength(y);
        return index >= x.Length ? null : index / Sector * Sector;
    }

    /// <summary>Where the first non-zero sector starts, as qemu-img's check_empty_sectors reports it.</summary>
    internal static long? FirstNonZero(ReadOnlySpan<byte> x)
    {
        int index = x.IndexOfAnyExcept((byte)0);
        return index < 0 ? null : index / Sector * Sector;
    }
}
