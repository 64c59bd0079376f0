using NUnit.Framework;
using Qcow2Mount.Qcow2.Caching;

namespace Qcow2Mount.Qcow2.Tests.Caching;

[TestFixture]
internal class BoundedCacheTests
{
    private sealed class Item(long key)
    {
        public long Key { get; } = key;
        public bool Pinned { get; set; }
    }

    [Test]
    public void Loads_once_and_then_hits()
    {
        var cache = new BoundedCache<Item>(4);
        int loads = 0;
        var first = cache.GetOrLoad(7, 0, (k, _) => { loads++; return new Item(k); });
        var second = cache.GetOrLoad(7, 0, (k, _) => { loads++; return new Item(k); });
        Assert.That((loads, ReferenceEquals(first, second)), Is.EqualTo((1, true)));
    }

    [Test]
    public void Never_holds_more_than_its_capacity_and_evicts_the_least_recently_used()
    {
        var cache = new BoundedCache<Item>(8);
        for (long k = 0; k < 8; k++)
        {
            cache.Add(k, new Item(k));
        }

        Assert.That(cache.TryGet(0, out _), Is.True); // 0 is now the most recently used
        cache.Add(100, new Item(100));
        Assert.That(cache.Count, Is.LessThanOrEqualTo(8));
        Assert.That(cache.TryGet(0, out _), Is.True, "recently used survives");
        Assert.That(cache.TryGet(100, out _), Is.True, "just added survives");
        Assert.That(cache.TryGet(1, out _), Is.False, "least recently used is evicted");
    }

    [Test]
    public void Capacity_is_at_least_one()
    {
        var cache = new BoundedCache<Item>(0);
        cache.Add(1, new Item(1));
        cache.Add(2, new Item(2));
        Assert.That((cache.Capacity, cache.Count), Is.EqualTo((1, 1)));
        Assert.That(cache.TryGet(2, out _), Is.True);
    }

    [Test]
    public void Items_that_may_not_be_evicted_stay_even_over_capacity()
    {
        var cache = new BoundedCache<Item>(2, item => !item.Pinned);
        cache.Add(1, new Item(1) { Pinned = true });
        cache.Add(2, new Item(2) { Pinned = true });
        cache.Add(3, new Item(3));
        cache.Add(4, new Item(4));
        Assert.That(cache.TryGet(1, out _) && cache.TryGet(2, out _), Is.True, "pinned (dirty) items are kept");
        Assert.That(cache.TryGet(3, out _), Is.False, "an unpinned item was evicted instead");
    }

    [Test]
    public void Trim_drops_items_unpinned_since_back_to_the_capacity()
    {
        var items = Enumerable.Range(0, 6).Select(k => new Item(k) { Pinned = true }).ToArray();
        var cache = new BoundedCache<Item>(4, item => !item.Pinned);
        foreach (var item in items)
        {
            cache.Add(item.Key, item);
        }

        Assert.That((cache.Count, cache.IsOverCapacity), Is.EqualTo((6, true)), "pinned items hold it over");
        cache.Trim();
        Assert.That(cache.Count, Is.EqualTo(6), "still pinned: nothing to drop");
        foreach (var item in items)
        {
            item.Pinned = false;
        }

        cache.Trim();
        Assert.That((cache.Count, cache.IsOverCapacity), Is.EqualTo((4, false)));
        Assert.That(cache.TryGet(5, out _), Is.True, "the most recently used stays");
    }

    [Test]
    public void Concurrent_loads_of_one_key_produce_one_value()
    {
        var cache = new BoundedCache<Item>(16);
        int loads = 0;
        var values = new Item[8];
        Parallel.For(0, values.Length, i => values[i] = cache.GetOrLoad(42, 0, (k, _) =>
        {
            Interlocked.Increment(ref loads);
            Thread.Sleep(20);
            return new Item(k);
        }));
        Assert.That(loads, Is.EqualTo(1));
        Assert.That(values.Distinct().Count(), Is.EqualTo(1));
    }
}
