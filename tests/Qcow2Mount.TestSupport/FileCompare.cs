using System.Buffers;
using Microsoft.Win32.SafeHandles;
using NUnit.Framework;

namespace Qcow2Mount.TestSupport;

/// <summary>
/// Reads up to <c>buffer.Length</c> bytes at <paramref name="offset"/>; returns how many were read (0 at the end).
/// Same shape as the engine's <c>IVirtualDisk.ReadAt</c>, so <c>disk.ReadAt</c> converts to it.
/// </summary>
public delegate int ReadAtCallback(long offset, Span<byte> buffer);

/// <summary>The outcome of a <see cref="FileCompare"/> run.</summary>
/// <param name="AreEqual">True when both sides have the same length and the same bytes.</param>
/// <param name="FirstDifference">Offset of the first differing byte (or of the length mismatch); null when equal.</param>
/// <param name="ActualLength">Length of the actual side: the length it claims, or as far as it was read when it claims none.</param>
/// <param name="ExpectedLength">Length of the expected file.</param>
/// <param name="Message">The first difference with a little context, or that both are equal.</param>
public sealed record CompareResult(bool AreEqual, long? FirstDifference, long ActualLength, long ExpectedLength, string Message);

/// <summary>
/// Compares a view (a stream or a ReadAt function) with an expected file, 1 MiB at a time, and reports the first
/// differing offset with a little context. The expected raws of the corpus are sparse; this reads them linearly.
/// </summary>
public static class FileCompare
{
    public const int ChunkSize = 1 << 20;

    /// <summary>Compares <paramref name="length"/> bytes produced by <paramref name="readAt"/> with the file.</summary>
    public static CompareResult Compare(ReadAtCallback readAt, long length, string expectedPath)
    {
        ArgumentNullException.ThrowIfNull(readAt);
        return CompareCore(
            (offset, buffer) =>
            {
                var total = 0;
                while (total < buffer.Length)
                {
                    var n = readAt(offset + total, buffer[total..]);
                    if (n <= 0)
                    {
                        break;
                    }

                    total += n;
                }

                return total;
            },
            length,
            expectedPath);
    }

    /// <summary>Compares the rest of <paramref name="actual"/> (from its current position) with the file.</summary>
    public static CompareResult Compare(Stream actual, string expectedPath)
    {
        ArgumentNullException.ThrowIfNull(actual);
        var start = actual.CanSeek ? actual.Position : 0;
        var length = actual.CanSeek ? actual.Length - start : long.MaxValue;
        return CompareCore(
            (_, buffer) =>
            {
                var total = 0;
                while (total < buffer.Length)
                {
                    var n = actual.Read(buffer[total..]);
                    if (n == 0)
                    {
                        break;
                    }

                    total += n;
                }

                return total;
            },
            length,
            expectedPath);
    }

    /// <summary>Two files, byte for byte.</summary>
    public static CompareResult CompareFiles(string actualPath, string expectedPath)
    {
        using var actual = File.OpenHandle(actualPath);
        return CompareCore((offset, buffer) => ReadFully(actual, offset, buffer), RandomAccess.GetLength(actual), expectedPath);
    }

    /// <summary><see cref="Compare(ReadAtCallback, long, string)"/>, failing the test with the message on a difference.</summary>
    public static void AssertSame(ReadAtCallback readAt, long length, string expectedPath, string? context = null) =>
        AssertResult(Compare(readAt, length, expectedPath), context);

    /// <summary><see cref="Compare(Stream, string)"/>, failing the test with the message on a difference.</summary>
    public static void AssertSame(Stream actual, string expectedPath, string? context = null) =>
        AssertResult(Compare(actual, expectedPath), context);

    private static void AssertResult(CompareResult result, string? context)
    {
        if (!result.AreEqual)
        {
            Assert.Fail(context is null ? result.Message : $"{context}: {result.Message}");
        }
    }

    private delegate int ReadChunk(long offset, Span<byte> buffer);

    /// <param name="readActual">Fills as much of the buffer as it can at the offset; fewer bytes only at the end.</param>
    /// <param name="actualLength">Bytes the actual side claims to have; long.MaxValue when unknown (read to its end).</param>
    /// <param name="expectedPath">The file the actual side must match.</param>
    private static CompareResult CompareCore(ReadChunk readActual, long actualLength, string expectedPath)
    {
        using var expected = File.OpenHandle(expectedPath);
        var expectedLength = RandomAccess.GetLength(expected);
        var actualBuffer = ArrayPool<byte>.Shared.Rent(ChunkSize);
        var expectedBuffer = ArrayPool<byte>.Shared.Rent(ChunkSize);
        try
        {
            long offset = 0;
            while (true)
            {
                var actualWant = (int)Math.Clamp(actualLength - offset, 0, ChunkSize);
                var expectedWant = (int)Math.Clamp(expectedLength - offset, 0, ChunkSize);
                var a = actualWant == 0 ? 0 : readActual(offset, actualBuffer.AsSpan(0, actualWant));
                var e = ReadFully(expected, offset, expectedBuffer.AsSpan(0, expectedWant));
                var common = Math.Min(a, e);
                var mismatch = actualBuffer.AsSpan(0, common).CommonPrefixLength(expectedBuffer.AsSpan(0, common));
                if (mismatch < common)
                {
                    var at = offset + mismatch;
                    return new CompareResult(false, at, actualLength, expectedLength,
                        $"first difference at offset {at} (0x{at:x}): expected 0x{expectedBuffer[mismatch]:x2}, " +
                        $"actual 0x{actualBuffer[mismatch]:x2}; {CountDifferences(actualBuffer.AsSpan(0, common), expectedBuffer.AsSpan(0, common))} " +
                        $"of the {common} bytes from 0x{offset:x} differ\n" +
                        $"  expected {Hex(expectedBuffer, mismatch, e)}\n  actual   {Hex(actualBuffer, mismatch, a)}");
                }

                offset += common;
                if (a != e || (a == 0 && actualLength != long.MaxValue && actualLength != offset))
                {
                    var shortRead = actualLength != long.MaxValue && a < actualWant;
                    var actualTotal = actualLength == long.MaxValue ? offset + (a - common) : actualLength;
                    return new CompareResult(false, offset, actualTotal, expectedLength, shortRead
                        ? $"short read: the actual side stopped at offset {offset} (0x{offset:x}) of the {actualLength} bytes it claims; expected {expectedLength} bytes"
                        : $"length differs: actual {actualTotal} bytes, expected {expectedLength} (equal up to offset {offset})");
                }

                if (a == 0)
                {
                    return new CompareResult(true, null, offset, expectedLength, $"equal ({expectedLength} bytes)");
                }
            }
        }
        finally
        {
            ArrayPool<byte>.Shared.Return(actualBuffer);
            ArrayPool<byte>.Shared.Return(expectedBuffer);
        }
    }

    private static int ReadFully(SafeFileHandle handle, long offset, Span<byte> buffer)
    {
        var total = 0;
        while (total < buffer.Length)
        {
            var n = RandomAccess.Read(handle, buffer[total..], offset + total);
            if (n == 0)
            {
                break;
            }

            total += n;
        }

        return total;
    }

    private static int CountDifferences(ReadOnlySpan<byte> a, ReadOnlySpan<byte> b)
    {
        var count = 0;
        for (var i = 0; i < a.Length; i++)
        {
            if (a[i] != b[i])
            {
                count++;
            }
        }

        return count;
    }

    private static string Hex(byte[] buffer, int at, int length) =>
        Convert.ToHexString(buffer, at, Math.Min(16, length - at)).ToLowerInvariant() + (length - at > 16 ? " ..." : string.Empty);
}
