using System.Collections.Concurrent;

namespace Qcow2Mount.Qcow2.Caching;

/// <summary>
/// A thread-safe cache keyed by host offset, bounded by an item count, evicting the least recently used items.
/// Hits take no lock; a miss loads under one of a few striped locks so the same item is never loaded twice
/// at once (callers that mutate cached tables rely on there being one copy).
/// </summary>
internal sealed class BoundedCache<TValue>
    where TValue : class
{
    private const int LockStripes = 64;

    private readonly ConcurrentDictionary<long, Node> _items = new();
    private readonly Lock[] _loadLocks;
    private readonly Lock _evictLock = new();
    private readonly int _capacity;
    private readonly Func<TValue, bool>? _canEvict;
    private long _clock;

    // ConcurrentDictionary.Count takes every bucket lock; adds and removes keep this instead.
    private int _count;

    /// <param name="capacity">Items kept at most (at least 1).</param>
    /// <param name="canEvict">Whether an item may be dropped now (false for dirty metadata not yet written).</param>
    public BoundedCache(int capacity, Func<TValue, bool>? canEvict = null)
    {
        _capacity = Math.Max(1, capacity);
        _canEvict = canEvict;
        _loadLocks = new Lock[LockStripes];
        for (int i = 0; i < LockStripes; i++)
        {
            _loadLocks[i] = new Lock();
        }
    }

    public int Count => Volatile.Read(ref _count);

    public int Capacity => _capacity;

    /// <summary>True while items that could not be evicted (dirty metadata) hold the cache above its capacity.</summary>
    public bool IsOverCapacity => Count > _capacity;

    public bool TryGet(long key, out TValue value)
    {
        if (_items.TryGetValue(key, out var node))
        {
            node.LastUse = Interlocked.Increment(ref _clock);
            value = node.Value;
            return true;
        }

        value = null!;
        return false;
    }

    public TValue GetOrLoad<TState>(long key, TState state, Func<long, TState, TValue> load)
    {
        if (TryGet(key, out var value))
        {
            return value;
        }

        var stripe = _loadLocks[(int)((ulong)key * 0x9E3779B97F4A7C15UL >> 58)];
        lock (stripe)
        {
            if (TryGet(key, out value))
            {
                return value;
            }

            value = load(key, state);
            Add(key, value);
            return value;
        }
    }

    public void Add(long key, TValue value)
    {
        var node = new Node(value) { LastUse = Interlocked.Increment(ref _clock) };
        bool added;
        while (!(added = _items.TryAdd(key, node)))
        {
            if (_items.TryGetValue(key, out var old) && _items.TryUpdate(key, node, old))
            {
                break;
            }
        }

        if (added && Interlocked.Increment(ref _count) > _capacity)
        {
            // Never the item just added: the caller is about to use (and maybe change) it.
            Evict(key);
        }
    }

    public void Remove(long key)
    {
        if (_items.TryRemove(key, out _))
        {
            Interlocked.Decrement(ref _count);
        }
    }

    /// <summary>
    /// Makes sure <paramref name="value"/> is the cached item for <paramref name="key"/>. A writer calls this after
    /// marking an item unevictable: an eviction that raced with the marking may have dropped it, and a reader may
    /// have loaded an older copy from disk since.
    /// </summary>
    public void EnsureCached(long key, TValue value)
    {
        if (!_items.TryGetValue(key, out var node) || !ReferenceEquals(node.Value, value))
        {
            Add(key, value);
        }
    }

    /// <summary>
    /// Evicts down to the capacity once pinned items have become evictable (their metadata written): eviction
    /// otherwise waits for the next add, and an owner checking <see cref="IsOverCapacity"/> would keep flushing.
    /// </summary>
    public void Trim()
    {
        if (IsOverCapacity)
        {
            Evict(keep: long.MinValue);
        }
    }

    public void Clear()
    {
        foreach (long key in _items.Keys)
        {
            Remove(key);
        }
    }

    /// <summary>A snapshot of the cached values (for flushing dirty metadata).</summary>
    public List<KeyValuePair<long, TValue>> Snapshot() =>
        _items.Select(kv => new KeyValuePair<long, TValue>(kv.Key, kv.Value.Value)).ToList();

    private void Evict(long keep)
    {
        lock (_evictLock)
        {
            int excess = Count - _capacity;
            if (excess <= 0)
            {
                return;
            }

            // Drop the oldest eighth at once so the scan is paid rarely: find the age cut-off by sorting the
            // use stamps alone (no LINQ, one array), then remove everything at or below it.
            int target = Math.Max(excess, _capacity / 8);
            long[] stamps = new long[Count + 16];
            int n = 0;
            foreach (var (key, node) in _items)
            {
                if (n < stamps.Length && key != keep && (_canEvict?.Invoke(node.Value) ?? true))
                {
                    stamps[n++] = node.LastUse;
                }
            }

            if (n == 0)
            {
                return;
            }

            Array.Sort(stamps, 0, n);
            long cutoff = stamps[Math.Min(target, n) - 1];
            foreach (var (key, node) in _items)
            {
                if (key != keep && node.LastUse <= cutoff && (_canEvict?.Invoke(node.Value) ?? true)
                    && _items.TryRemove(key, out var removed))
                {
                    if (_canEvict?.Invoke(removed.Value) ?? true)
                    {
                        Interlocked.Decrement(ref _count);
                    }
                    else if (!_items.TryAdd(key, removed))
                    {
                        // A writer pinned it while we worked and a reader loaded an older copy since: keep the
                        // pinned one, which replaces that copy.
                        _items[key] = removed;
                        Interlocked.Decrement(ref _count);
                    }
                }
            }
        }
    }

    private sealed class Node(TValue value)
    {
        public TValue Value { get; } = value;
        public long LastUse;
    }
}
