using System.Security.Cryptography;
using Qcow2Mount.Qcow2;

namespace Qcow2Mount.Operations;

/// <summary>
/// Hashes a disk's guest bytes (what disk.raw, or <c>qemu-img convert -O raw</c>, holds) with one or more
/// algorithms in one pass. Workers read chunks ahead, so reading and decompressing overlap with hashing; ranges a
/// qcow2 image's metadata marks as zero are hashed as zeros without reading.
/// </summary>
internal sealed class ImageHasher
{
    public const int ChunkSize = 4 << 20;

    public static HashAlgorithmName NameOf(DigestAlgorithm algorithm) => algorithm switch
    {
        DigestAlgorithm.Md5 => HashAlgorithmName.MD5,
        DigestAlgorithm.Sha1 => HashAlgorithmName.SHA1,
        DigestAlgorithm.Sha256 => HashAlgorithmName.SHA256,
        DigestAlgorithm.Sha512 => HashAlgorithmName.SHA512,
        _ => throw new ArgumentOutOfRangeException(nameof(algorithm), algorithm, null),
    };

    private readonly IVirtualDisk _disk;
    private readonly int _readAhead;
    private readonly System.Collections.Concurrent.ConcurrentStack<byte[]> _free = new();

    public ImageHasher(IVirtualDisk disk, int readAhead)
    {
        _disk = disk;
        _readAhead = Math.Max(1, readAhead);
    }

    /// <summary>Hex digests, in the order of <paramref name="algorithms"/>.</summary>
    /// <param name="algorithms">The digests to compute, all in one pass over the disk.</param>
    /// <param name="onProgress">Given the guest bytes hashed so far, after each chunk.</param>
    /// <param name="cancellationToken">Looked at before each chunk; the reads under way end before this returns.</param>
    public IReadOnlyList<string> Hash(IReadOnlyList<HashAlgorithmName> algorithms, Action<long>? onProgress = null, CancellationToken cancellationToken = default)
    {
        var hashes = algorithms.Select(IncrementalHash.CreateHash).ToList();
        var pending = new Queue<Task<byte[]>>();
        try
        {
            long chunks = (_disk.Length + ChunkSize - 1) / ChunkSize;
            long next = 0;
            for (long chunk = 0; chunk < chunks; chunk++)
            {
                cancellationToken.ThrowIfCancellationRequested();
                while (next < chunks && pending.Count < _readAhead)
                {
                    long offset = next++ * ChunkSize;
                    pending.Enqueue(Task.Run(() => ReadChunk(offset)));
                }

                byte[] data = pending.Dequeue().GetAwaiter().GetResult();
                int length = (int)Math.Min(ChunkSize, _disk.Length - chunk * ChunkSize);
                // Several algorithms hash the same chunk side by side.
                Parallel.ForEach(hashes, hash => hash.AppendData(data, 0, length));
                _free.Push(data);
                onProgress?.Invoke(chunk * ChunkSize + length);
            }

            return hashes.Select(h => Convert.ToHexStringLower(h.GetHashAndReset())).ToList();
        }
        finally
        {
            // After a failed read, the reads still under way end before the caller disposes the disk.
            foreach (var task in pending)
            {
                ((IAsyncResult)task).AsyncWaitHandle.WaitOne();
            }

            foreach (var hash in hashes)
            {
                hash.Dispose();
            }
        }
    }

    private byte[] ReadChunk(long offset)
    {
        // Buffers go round (at most read-ahead + 1 of them): a new 4 MiB array per chunk would keep the GC busy.
        var buffer = _free.TryPop(out var reused) ? reused : GC.AllocateUninitializedArray<byte>(ChunkSize);
        int size = (int)Math.Min(ChunkSize, _disk.Length - offset);
        int position = 0;
        while (position < size)
        {
            var (knownZero, length) = _disk is Qcow2Image image
                ? image.GetBlockStatus(offset + position, size - position)
                : (false, size - position);
            var run = buffer.AsSpan(position, (int)length);
            if (knownZero)
            {
                run.Clear();
            }
            else
            {
                DiskReads.ReadFully(_disk, offset + position, run);
            }

            position += run.Length;
        }

        return buffer;
    }

}
