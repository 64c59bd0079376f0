using System.Collections.Concurrent;
using System.Runtime.ExceptionServices;
using Qcow2Mount.Qcow2;
using Qcow2Mount.Qcow2.Create;

namespace Qcow2Mount.Operations;

/// <summary>
/// Copies a guest view into a new qcow2 image, the way qemu-img convert does it: the image is created empty, and
/// only clusters holding non-zero data are stored (zeros stay unallocated).
/// <para>
/// Workers take 1 MiB chunks in turn: each reads its chunk (ranges a qcow2 source's metadata marks as zero are not
/// read, as in <see cref="RawConverter"/>), finds the all-zero clusters and, with <c>-c</c>, compresses the rest.
/// The calling thread writes the chunks in guest order, so the output is laid out sequentially: runs of data
/// clusters with <see cref="Qcow2Image.WriteNewClusters"/>, runs of compressed ones with
/// <see cref="Qcow2Image.WriteCompressedClusters"/>. At most a few chunks per worker wait to be written.
/// </para>
/// <para>
/// Like qemu-img convert (whose target cache mode defaults to unsafe), nothing is fsynced unless asked: a
/// conversion interrupted by a crash is redone, not repaired.
/// </para>
/// </summary>
internal sealed class Qcow2Converter
{
    /// <summary>
    /// Guest bytes per chunk (larger clusters make a chunk of their own). Small enough that a chunk is likely
    /// still in the CPU cache when the writer copies it into the page cache: with 4 MiB chunks a plain conversion
    /// took noticeably more system time in that copy.
    /// </summary>
    private const int ChunkSize = 1 << 20;

    /// <summary>Chunks each worker may have read ahead of the writer.</summary>
    private const int ChunksPerWorker = 2;

    /// <summary>Per-cluster marks in <see cref="Chunk.Sizes"/> (positive values are compressed sizes).</summary>
    private const int ZeroCluster = 0;
    private const int DataCluster = -1;

    private readonly IVirtualDisk _source;
    private readonly Qcow2Image _target;
    private readonly bool _compress;
    private readonly int _clusterSize;
    private readonly int _chunkSize;
    private readonly long _chunkCount;
    private readonly ConcurrentBag<Chunk> _free = [];

    /// <summary>Guards the fields below. Waits are Monitor waits: no spinning on cores the workers need.</summary>
    private readonly Dictionary<long, Chunk> _done = [];
    private int _slots;
    private long _nextChunk;
    private bool _stopped;
    private Exception? _failure;

    private Qcow2Converter(IVirtualDisk source, Qcow2Image target, bool compress, int workers)
    {
        _source = source;
        _target = target;
        _compress = compress;
        _clusterSize = target.ClusterSize;
        _chunkSize = Math.Max(ChunkSize, _clusterSize);
        _chunkCount = (source.Length + _chunkSize - 1) / _chunkSize;
        _slots = workers * ChunksPerWorker;
    }

    /// <summary>Creates <paramref name="destination"/> and fills it with the guest view of <paramref name="source"/>.</summary>
    /// <param name="source">The guest view to copy.</param>
    /// <param name="destination">The qcow2 file to create; it must not exist.</param>
    /// <param name="create">The new image's layout (cluster size, virtual size, features).</param>
    /// <param name="compress">Write each cluster compressed when that makes it smaller.</param>
    /// <param name="workers">Threads that read (and compress); the calling thread writes.</param>
    /// <param name="flushToDisk">fsync the image when done (and at every metadata ordering point).</param>
    /// <param name="progress">Given the guest bytes done so far, after each chunk.</param>
    /// <param name="cancellationToken">Looked at before each chunk is written; a cancel stops the workers too.</param>
    public static void Run(IVirtualDisk source, string destination, CreateOptions create, bool compress, int workers,
        bool flushToDisk, Action<long>? progress, CancellationToken cancellationToken = default)
    {
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(workers);
        ImageCreator.Create(destination, create with { Size = source.Length, Overwrite = true });
        var options = new Qcow2OpenOptions { Writable = true, LazyRefcounts = true, FlushToDisk = flushToDisk };
        using var target = Qcow2Image.Open(destination, options);
        new Qcow2Converter(source, target, compress, workers).Copy(workers, progress, cancellationToken);
        // A cancel made on the last chunk's report still counts.
        cancellationToken.ThrowIfCancellationRequested();
        target.Flush();
    }

    private void Copy(int workers, Action<long>? progress, CancellationToken cancellationToken)
    {
        var threads = new Thread[workers];
        for (int i = 0; i < threads.Length; i++)
        {
            threads[i] = new Thread(Work) { IsBackground = true, Name = $"convert-{i}" };
            threads[i].Start();
        }

        try
        {
            for (long index = 0; index < _chunkCount; index++)
            {
                cancellationToken.ThrowIfCancellationRequested();
                var chunk = Next(index);
                Write(chunk);
                _free.Add(chunk);
                lock (_done)
                {
                    _slots++;
                    Monitor.Pulse(_done);
                }

                progress?.Invoke(Math.Min(_source.Length, (index + 1) * _chunkSize));
            }
        }
        catch
        {
            lock (_done)
            {
                _stopped = true;
                Monitor.PulseAll(_done);
            }

            throw;
        }
        finally
        {
            foreach (var thread in threads)
            {
                thread.Join();
            }
        }
    }

    /// <summary>Waits for chunk <paramref name="index"/> to be read and prepared.</summary>
    private Chunk Next(long index)
    {
        lock (_done)
        {
            while (true)
            {
                if (_failure is not null)
                {
                    ExceptionDispatchInfo.Throw(_failure);
                }

                if (_done.Remove(index, out var chunk))
                {
                    return chunk;
                }

                Monitor.Wait(_done);
            }
        }
    }

    private void Work()
    {
        try
        {
            while (true)
            {
                long index;
                lock (_done)
                {
                    // A slot first, then an index: the chunk the writer waits for always belongs to a running worker.
                    while (_slots == 0 && !_stopped && _nextChunk < _chunkCount)
                    {
                        Monitor.Wait(_done);
                    }

                    if (_stopped || _nextChunk >= _chunkCount)
                    {
                        // Wake the next waiting worker: it has nothing to do either.
                        Monitor.PulseAll(_done);
                        return;
                    }

                    _slots--;
                    index = _nextChunk++;
                }

                if (!_free.TryTake(out var chunk))
                {
                    chunk = new Chunk(_chunkSize, _clusterSize, _compress);
                }

                Prepare(chunk, index);
                lock (_done)
                {
                    _done.Add(index, chunk);
                    Monitor.PulseAll(_done);
                }
            }
        }
#pragma warning disable CA1031 // A reader thread's failure is kept and rethrown on the writing thread.
        catch (Exception e)
#pragma warning restore CA1031
        {
            lock (_done)
            {
                _failure ??= e;
                Monitor.PulseAll(_done);
            }
        }
    }

    /// <summary>Reads a chunk (zero-padded to whole clusters) and marks each cluster zero, data or compressed.</summary>
    private void Prepare(Chunk chunk, long index)
    {
        chunk.Offset = index * _chunkSize;
        int length = (int)Math.Min(_chunkSize, _source.Length - chunk.Offset);
        chunk.Clusters = (length + _clusterSize - 1) / _clusterSize;
        var data = chunk.Data.AsSpan(0, chunk.Clusters * _clusterSize);
        Read(chunk.Offset, data[..length]);
        // The target is rounded up to 512 bytes: its last cluster is padded with zeros, not stale buffer bytes.
        data[length..].Clear();

        int packed = 0;
        for (int c = 0; c < chunk.Clusters; c++)
        {
            var cluster = data.Slice(c * _clusterSize, _clusterSize);
            if (!cluster.ContainsAnyExcept((byte)0))
            {
                chunk.Sizes[c] = ZeroCluster;
            }
            else if (_compress && _target.CompressCluster(cluster, chunk.Packed.AsSpan(packed)) is > 0 and int size)
            {
                chunk.Sizes[c] = size;
                packed += size;
            }
            else
            {
                chunk.Sizes[c] = DataCluster;
            }
        }
    }

    private void Read(long offset, Span<byte> destination)
    {
        if (_source is not Qcow2Image image)
        {
            DiskReads.ReadFully(_source, offset, destination);
            return;
        }

        // Ranges the metadata marks as zero (zero clusters, unallocated without backing) are not read at all.
        int position = 0;
        while (position < destination.Length)
        {
            var (knownZero, length) = image.GetBlockStatus(offset + position, destination.Length - position);
            var run = destination.Slice(position, (int)length);
            if (knownZero)
            {
                run.Clear();
            }
            else
            {
                DiskReads.ReadFully(_source, offset + position, run);
            }

            position += run.Length;
        }
    }

    /// <summary>Stores a prepared chunk: each run of same-kind clusters with one call.</summary>
    private void Write(Chunk chunk)
    {
        int packed = 0;
        for (int start = 0; start < chunk.Clusters;)
        {
            int kind = Math.Sign(chunk.Sizes[start]);
            int end = start + 1;
            while (end < chunk.Clusters && Math.Sign(chunk.Sizes[end]) == kind)
            {
                end++;
            }

            long at = chunk.Offset + ((long)start * _clusterSize);
            if (kind == Math.Sign(DataCluster))
            {
                _target.WriteNewClusters(at, chunk.Data.AsSpan(start * _clusterSize, (end - start) * _clusterSize));
            }
            else if (kind != ZeroCluster)
            {
                var sizes = chunk.Sizes.AsSpan(start, end - start);
                int bytes = 0;
                foreach (int size in sizes)
                {
                    bytes += size;
                }

                _target.WriteCompressedClusters(at, chunk.Packed.AsSpan(packed, bytes), sizes);
                packed += bytes;
            }

            start = end;
        }
    }

    /// <summary>One chunk's buffers: guest data, and with compression the payloads packed back to back.</summary>
    private sealed class Chunk(int size, int clusterSize, bool compress)
    {
        public byte[] Data { get; } = GC.AllocateUninitializedArray<byte>(size);

        /// <summary>Compressed payloads never exceed the clusters they replace, so a chunk's worth always fits.</summary>
        public byte[] Packed { get; } = compress ? GC.AllocateUninitializedArray<byte>(size) : [];

        public int[] Sizes { get; } = new int[size / clusterSize];
        public long Offset { get; set; }
        public int Clusters { get; set; }
    }
}
