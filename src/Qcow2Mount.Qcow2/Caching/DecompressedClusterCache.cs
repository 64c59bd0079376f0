using System.Runtime.InteropServices;

namespace Qcow2Mount.Qcow2.Caching;

/// <summary>
/// Inflated compressed clusters, keyed by the compressed data's host offset, so small reads of one cluster pay
/// for one inflate. Sized for random reads over large images: a fixed set of cluster-sized slots allocated once
/// and reused (no garbage per miss; native memory, so a large cache costs the garbage collector nothing and is
/// given back at <see cref="Dispose"/>), split into shards with a lock each, evicting by CLOCK (second chance) within a
/// shard in O(1). Readers copy out under the shard's lock, so a slot is never rewritten while it is read.
/// A slot may hold only a prefix of its cluster (<see cref="Store"/>'s valid length): reads beyond it miss.
/// </summary>
internal sealed unsafe class DecompressedClusterCache : IDisposable
{
    private readonly Shard[] _shards;
    private readonly int _clusterSize;

    /// <param name="capacityBytes">Memory for slots; below one cluster the cache holds nothing.</param>
    /// <param name="clusterSize">Bytes per slot.</param>
    public DecompressedClusterCache(long capacityBytes, int clusterSize)
    {
        _clusterSize = clusterSize;
        long slots = Math.Clamp(capacityBytes / clusterSize, 0, int.MaxValue);
        // A shard per 64 slots, at most 64 shards: enough locks for the threads a mount runs, few enough that
        // every shard keeps a useful number of slots to choose victims from.
        int shards = (int)Math.Clamp(slots / 64, slots == 0 ? 0 : 1, 64);
        _shards = new Shard[shards];
        for (int i = 0; i < shards; i++)
        {
            int share = (int)(slots / shards + (i < slots % shards ? 1 : 0));
            _shards[i] = new Shard(share);
        }

        Capacity = (int)slots;
    }

    /// <summary>Clusters held at most.</summary>
    public int Capacity { get; }

    /// <summary>
    /// Copies <paramref name="destination"/>.Length bytes from <paramref name="offset"/> in the cached cluster
    /// <paramref name="key"/>; false when it is not cached or its cached prefix is too short.
    /// </summary>
    public bool TryRead(long key, int offset, Span<byte> destination) => TryRead(key, offset, destination, out _);

    /// <inheritdoc cref="TryRead(long, int, Span{byte})"/>
    /// <param name="key">The compressed cluster's key (its host offset).</param>
    /// <param name="offset">Where in the decompressed cluster to start.</param>
    /// <param name="destination">Receives the bytes.</param>
    /// <param name="cachedLength">Bytes of the cluster held (0 when not cached), also on a miss.</param>
    public bool TryRead(long key, int offset, Span<byte> destination, out int cachedLength)
    {
        cachedLength = 0;
        if (_shards.Length == 0)
        {
            return false;
        }

        var shard = ShardOf(key);
        lock (shard.Lock)
        {
            if (!shard.Index.TryGetValue(key, out int slot))
            {
                return false;
            }

            cachedLength = shard.Valid[slot];
            if (cachedLength < offset + destination.Length)
            {
                return false;
            }

            shard.Referenced[slot] = true;
            new ReadOnlySpan<byte>(shard.Data[slot] + offset, destination.Length).CopyTo(destination);
            return true;
        }
    }

    /// <summary>Bytes of <paramref name="key"/>'s cluster held (0 when not cached); does not count as a use.</summary>
    public int CachedLength(long key)
    {
        if (_shards.Length == 0)
        {
            return 0;
        }

        var shard = ShardOf(key);
        lock (shard.Lock)
        {
            return shard.Index.TryGetValue(key, out int slot) ? shard.Valid[slot] : 0;
        }
    }

    /// <summary>
    /// Caches the first <paramref name="data"/>.Length bytes of <paramref name="key"/>'s cluster, replacing a
    /// shorter cached prefix; evicts the shard's least recently used slot when it is full.
    /// </summary>
    public void Store(long key, ReadOnlySpan<byte> data)
    {
        if (_shards.Length == 0 || data.Length > _clusterSize)
        {
            return;
        }

        var shard = ShardOf(key);
        lock (shard.Lock)
        {
            if (shard.Disposed)
            {
                return;
            }

            if (shard.Index.TryGetValue(key, out int slot))
            {
                if (shard.Valid[slot] >= data.Length)
                {
                    return;
                }
            }
            else
            {
                slot = shard.Victim();
                if (shard.Keys[slot] is long old)
                {
                    shard.Index.Remove(old);
                }

                shard.Keys[slot] = key;
                shard.Index[key] = slot;
            }

            if (shard.Data[slot] is null)
            {
                // Slots are allocated as they are first filled: a cache that never fills costs only what it holds.
                shard.Data[slot] = (byte*)NativeMemory.Alloc((nuint)_clusterSize);
            }

            data.CopyTo(new Span<byte>(shard.Data[slot], _clusterSize));
            shard.Valid[slot] = data.Length;
            shard.Referenced[slot] = true;
        }
    }

    /// <summary>Drops <paramref name="key"/> (its host cluster was freed or rewritten).</summary>
    public void Remove(long key)
    {
        if (_shards.Length == 0)
        {
            return;
        }

        var shard = ShardOf(key);
        lock (shard.Lock)
        {
            shard.Drop(key);
        }
    }

    public void Clear()
    {
        foreach (var shard in _shards)
        {
            lock (shard.Lock)
            {
                foreach (long key in shard.Index.Keys.ToList())
                {
                    shard.Drop(key);
                }
            }
        }
    }

    /// <summary>Gives the slots' memory back; later stores are ignored and reads miss.</summary>
    public void Dispose()
    {
        foreach (var shard in _shards)
        {
            lock (shard.Lock)
            {
                shard.Disposed = true;
                shard.Index.Clear();
                for (int i = 0; i < shard.Keys.Length; i++)
                {
                    shard.Keys[i] = null;
                    NativeMemory.Free(shard.Data[i]);
                    shard.Data[i] = null;
                }
            }
        }
    }

    private Shard ShardOf(long key) =>
        _shards[(int)(((ulong)key * 0x9E3779B97F4A7C15UL >> 32) % (uint)_shards.Length)];

    private sealed class Shard(int slots)
    {
        public readonly Lock Lock = new();
        public readonly Dictionary<long, int> Index = new(slots);
        public readonly long?[] Keys = new long?[slots];
        public readonly byte*[] Data = new byte*[slots];
        public readonly int[] Valid = new int[slots];
        public readonly bool[] Referenced = new bool[slots];
        private int _hand;

        public bool Disposed;

        /// <summary>CLOCK: the first slot from the hand not used since the hand last passed (empty slots first).</summary>
        public int Victim()
        {
            while (true)
            {
                int slot = _hand;
                _hand = (_hand + 1) % Keys.Length;
                if (Keys[slot] is null || !Referenced[slot])
                {
                    return slot;
                }

                Referenced[slot] = false;
            }
        }

        public void Drop(long key)
        {
            if (Index.Remove(key, out int slot))
            {
                Keys[slot] = null;
                Valid[slot] = 0;
                Referenced[slot] = false;
            }
        }
    }
}
