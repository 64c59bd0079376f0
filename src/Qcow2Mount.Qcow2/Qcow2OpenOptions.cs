using System.Diagnostics.CodeAnalysis;

namespace Qcow2Mount.Qcow2;

/// <summary>How to open an image. Bound from the <c>Qcow2</c> configuration section by the front ends.</summary>
public sealed record Qcow2OpenOptions
{
    /// <summary>Open the image file for writing. Read-only opens never write a byte to any file.</summary>
    public bool Writable { get; init; }

    /// <summary>
    /// The password of an encrypted image (UTF-8 bytes), tried on every encrypted image of the backing chain.
    /// Without it an encrypted image opens only with <see cref="MetadataOnly"/>.
    /// </summary>
    [SuppressMessage("Performance", "CA1819:Properties should not return arrays", Justification = "The password's bytes are handed on as the caller holds them; a property returning a copy would leave one more copy of the secret in memory on every read.")]
    public byte[]? Password { get; init; }

    /// <summary>Shares unlocked LUKS keys between opens of the same image (a mount's snapshot views).</summary>
    public Crypto.UnlockedKeys? UnlockedKeys { get; init; }

    /// <summary>
    /// The caller reads or changes metadata only (info, snapshot list, snapshot create, resize): an encrypted image
    /// opens without its password, and a read or write of its data clusters fails.
    /// </summary>
    public bool MetadataOnly { get; init; }

    /// <summary>
    /// Bytes of L2 tables kept in memory. The default (32 MiB) maps a 256 GiB disk with 64 KiB clusters
    /// (4 TiB with 1 MiB clusters) entirely.
    /// </summary>
    public long L2CacheBytes { get; init; } = 32L << 20;

    /// <summary>Bytes of refcount blocks kept in memory.</summary>
    public long RefcountCacheBytes { get; init; } = 4L << 20;

    /// <summary>
    /// Most bytes of inflated compressed clusters kept in memory (default <see cref="DefaultDecompressedCacheBytes"/>).
    /// Memory is taken as clusters are inflated and given back when the image is closed; images without
    /// compressed clusters use none.
    /// </summary>
    public long DecompressedCacheBytes { get; init; } = DefaultDecompressedCacheBytes;

    /// <summary>
    /// 512 MiB, or a sixteenth of the memory this process may use when that is less. Random small reads of a
    /// compressed image inflate a whole cluster each; a cache that holds a working set of clusters turns most of
    /// them into copies (on a 1 GiB image, 64 MiB held an eighth of the compressed clusters).
    /// </summary>
    public static long DefaultDecompressedCacheBytes { get; } =
        Math.Clamp(GC.GetGCMemoryInfo().TotalAvailableMemoryBytes / 16, 16L << 20, 512L << 20);

    /// <summary>Use lazy refcounts for writable v3 images (set dirty, defer refcount writes to flush/close).</summary>
    public bool LazyRefcounts { get; init; } = true;

    /// <summary>Present this internal snapshot (id or name) as a read-only disk instead of the active layer.</summary>
    public string? Snapshot { get; init; }

    /// <summary>Do not open the backing chain; unallocated clusters then read as zeros.</summary>
    public bool IgnoreBacking { get; init; }

    /// <summary>Maximum length of a backing chain before it is refused as a likely loop.</summary>
    public int MaxBackingDepth { get; init; } = 64;

    /// <summary>
    /// Writable opens take the one-writer lock, which also speaks QEMU's lock protocol (see ImageLock); read-only
    /// opens take none, as QEMU's force-share. False: no lock at all.
    /// </summary>
    public bool Lock { get; init; } = true;

    /// <summary>
    /// For long-lived opens (mounts): every file opened read-only (the image, its backing chain, its data file)
    /// holds a reader lock that this tool's writers respect, so qcow2mount snapshot, resize, check --repair or a
    /// writable mount elsewhere cannot change it underneath. It also takes the locks a QEMU reader takes (as
    /// qemu-img does without -U): an image a VM or qemu-img has open for writing is refused, and none of them can
    /// start writing it while it stays open, since our cached metadata would not see their changes.
    /// </summary>
    public bool HoldReaderLock { get; init; }

    /// <summary>
    /// With <see cref="HoldReaderLock"/>: take no QEMU lock (QEMU's force-share, qemu-img -U), so an image that a
    /// running VM writes can be opened, and the VM may go on writing it. Reads can then be inconsistent: what the
    /// VM writes after the open may or may not be seen, and metadata it changes can make reads fail.
    /// </summary>
    public bool ForceShare { get; init; }

    /// <summary>
    /// Discarded clusters this layer owns alone are also deallocated in the host file (Linux: a punched hole), so
    /// the space goes back to the file system at once. False: they stay allocated in the file until reused.
    /// </summary>
    public bool PunchHoles { get; init; } = true;

    /// <summary>
    /// False: never wait for the image file to reach the disk (QEMU's <c>cache=unsafe</c>, qemu-img convert's
    /// default for its target). Only for an image that is worthless after a crash anyway, such as a conversion's
    /// output; writes are ordered as usual, but a crash or power loss can leave any mix of them on disk.
    /// </summary>
    public bool FlushToDisk { get; init; } = true;

    private readonly Func<string, bool, Storage.IHostFile>? _hostFileOpener;

    /// <summary>Opens host files (path, writable); tests put a fault-injecting file here. Null: the real file.</summary>
    internal Func<string, bool, Storage.IHostFile>? HostFileOpener
    {
        get => _hostFileOpener ?? (FlushToDisk ? null : OpenUnsynced);
        init => _hostFileOpener = value;
    }

#pragma warning disable CA2000 // Wrong: the UnsyncedFile owns the host file it wraps and disposes it.
    private Storage.UnsyncedFile OpenUnsynced(string path, bool writable) =>
        new Storage.UnsyncedFile(Storage.HostFile.Open(path, writable, lockWriter: writable && Lock));
#pragma warning restore CA2000
}
