using NUnit.Framework;

namespace Qcow2Mount.Qcow2.Tests.Writes;

/// <summary>
/// Random guest operations applied to an image and to an in-memory model of the guest disk at once.
/// The model is what the disk must read as.
/// </summary>
internal sealed class WriteModel
{
    private readonly Random _random;

    public WriteModel(byte[] initial, int seed)
    {
        Bytes = initial;
        _random = new Random(seed);
    }

    public byte[] Bytes { get; }

    public int ClusterSize { get; init; } = 65536;

    /// <summary>Offset and length of a random range: mostly small and unaligned, sometimes cluster-aligned or large.</summary>
    public (long Offset, int Length) NextRange()
    {
        long size = Bytes.Length;
        long offset = _random.Next(4) switch
        {
            0 => _random.NextInt64(size / ClusterSize) * ClusterSize,
            1 => size - _random.Next(1, 3 * ClusterSize),
            _ => _random.NextInt64(size),
        };
        offset = Math.Clamp(offset, 0, size - 1);
        int length = _random.Next(5) switch
        {
            0 => ClusterSize * _random.Next(1, 4),
            1 => _random.Next(1, 4 * ClusterSize),
            _ => _random.Next(1, 9000),
        };
        return (offset, (int)Math.Min(length, size - offset));
    }

    public int NextOperation(int choices) => _random.Next(choices);

    public byte[] NextData(int length)
    {
        var data = new byte[length];
        _random.NextBytes(data);
        return data;
    }

    public void Write(long offset, ReadOnlySpan<byte> data) => data.CopyTo(Bytes.AsSpan((int)offset));

    public void Zero(long offset, int length) => Bytes.AsSpan((int)offset, length).Clear();

    /// <summary>Asserts the disk reads exactly as the model.</summary>
    public void AssertMatches(IVirtualDisk disk, string context)
    {
        Assert.That(disk.Length, Is.EqualTo(Bytes.Length), $"{context}: length");
        var buffer = new byte[1 << 20];
        for (long offset = 0; offset < Bytes.Length; offset += buffer.Length)
        {
            int n = disk.ReadAt(offset, buffer);
            var expected = Bytes.AsSpan((int)offset, n);
            if (!buffer.AsSpan(0, n).SequenceEqual(expected))
            {
                int at = buffer.AsSpan(0, n).CommonPrefixLength(expected);
                Assert.Fail($"{context}: guest byte 0x{offset + at:x} reads {buffer[at]:x2}, model has {expected[at]:x2}");
            }
        }
    }
}
