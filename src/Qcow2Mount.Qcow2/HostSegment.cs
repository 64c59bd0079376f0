using Microsoft.Win32.SafeHandles;

namespace Qcow2Mount.Qcow2;

/// <summary>
/// A run of guest bytes as it lies in a host file (<see cref="File"/> at <see cref="Position"/>), or a run that
/// reads as zeros (<see cref="File"/> null). Lets an adapter hand data to the kernel without copying it through
/// user memory (Linux splice).
/// </summary>
public readonly record struct HostSegment(SafeFileHandle? File, long Position, int Length)
{
    public bool IsZero => File is null;
}

/// <summary>A disk that can say where a guest range's bytes lie on the host, when they lie there as-is.</summary>
public interface IHostMappedDisk
{
    /// <summary>
    /// Maps <paramref name="length"/> guest bytes at <paramref name="offset"/> (inside the disk) to host segments,
    /// in order, into <paramref name="segments"/>. False, with nothing promised, when any part is not stored
    /// as-is (compressed, beyond the end of its host file), when more segments than the span holds are needed,
    /// or when the disk can change (a writable open: a mapping could be stale before the caller uses it).
    /// </summary>
    bool TryMapRead(long offset, int length, Span<HostSegment> segments, out int count);
}

/// <summary>Appends segments, merging a segment that continues the previous one.</summary>
internal static class HostSegments
{
    /// <summary>False when <paramref name="segments"/> is full.</summary>
    public static bool Append(Span<HostSegment> segments, ref int count, HostSegment next)
    {
        if (count > 0 && TryExtend(ref segments[count - 1], next))
        {
            return true;
        }

        if (count == segments.Length)
        {
            return false;
        }

        segments[count++] = next;
        return true;
    }

    /// <summary>
    /// Takes in <paramref name="added"/> segments someone else wrote right after the first <paramref name="count"/>,
    /// merging the first of them into the one before when it continues it.
    /// </summary>
    public static void MergeAt(Span<HostSegment> segments, ref int count, int added)
    {
        if (added > 0 && count > 0 && TryExtend(ref segments[count - 1], segments[count]))
        {
            segments.Slice(count + 1, added - 1).CopyTo(segments[count..]);
            added--;
        }

        count += added;
    }

    private static bool TryExtend(ref HostSegment last, HostSegment next)
    {
        bool continues = last.File is null
            ? next.File is null
            : ReferenceEquals(last.File, next.File) && last.Position + last.Length == next.Position;
        if (!continues || (long)last.Length + next.Length > int.MaxValue)
        {
            return false;
        }

        last = last with { Length = last.Length + next.Length };
        return true;
    }
}
