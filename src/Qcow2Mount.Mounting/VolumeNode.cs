using Qcow2Mount.Qcow2;

namespace Qcow2Mount.Mounting;

/// <summary>A file or directory of a <see cref="Volume"/>. The tree is fixed when the volume is built.</summary>
public sealed class VolumeNode
{
    private readonly List<VolumeNode> _children = [];

    internal VolumeNode(ulong id, string name, string path, bool isReadOnly, IVirtualDisk? disk, IVirtualDisk? wholeDisk = null)
    {
        Id = id;
        Name = name;
        Path = path;
        IsReadOnly = isReadOnly;
        Disk = disk;
        WholeDisk = wholeDisk ?? disk;
    }

    /// <summary>Stable number (inode, Windows index number); the root is 1.</summary>
    public ulong Id { get; }

    /// <summary>File name; empty for the root.</summary>
    public string Name { get; }

    /// <summary>Path from the root with '/' separators, e.g. <c>/snapshots/base.raw</c>.</summary>
    public string Path { get; }

    public bool IsDirectory => Disk is null;

    /// <summary>True for every node of a read-only volume and for snapshot files.</summary>
    public bool IsReadOnly { get; }

    /// <summary>File size (the guest disk size, or the partition's); 0 for directories.</summary>
    public long Length => Disk?.Length ?? 0;

    /// <summary>POSIX permissions: 0444 / 0644 for files, 0555 / 0755 for directories.</summary>
    public UnixFileMode Permissions => (IsDirectory, IsReadOnly) switch
    {
        (false, true) => ReadBits,
        (false, false) => ReadBits | UnixFileMode.UserWrite,
        (true, true) => ReadBits | ExecuteBits,
        (true, false) => ReadBits | ExecuteBits | UnixFileMode.UserWrite,
    };

    /// <summary>Entries of a directory in name order; empty for files.</summary>
    public IReadOnlyList<VolumeNode> Children => _children;

    internal IVirtualDisk? Disk { get; }

    /// <summary>The disk whose bytes the file shows: <see cref="Disk"/> itself, or the disk a partition file is a window onto.</summary>
    internal IVirtualDisk? WholeDisk { get; }

    /// <summary>Open handles on this node, guarded by itself; only opens and closes take it, never reads.</summary>
    internal List<OpenHandle> OpenHandles { get; } = [];

    internal void Add(VolumeNode child) => _children.Add(child);

    internal void SortChildren() => _children.Sort((a, b) => string.CompareOrdinal(a.Name, b.Name));

    private const UnixFileMode ReadBits = UnixFileMode.UserRead | UnixFileMode.GroupRead | UnixFileMode.OtherRead;
    private const UnixFileMode ExecuteBits =
        UnixFileMode.UserExecute | UnixFileMode.GroupExecute | UnixFileMode.OtherExecute;
}

/// <summary>One open handle: what it may do, and what it lets others do.</summary>
internal sealed record OpenHandle(VolumeNode Node, VolumeAccess Access, VolumeShare Share);
