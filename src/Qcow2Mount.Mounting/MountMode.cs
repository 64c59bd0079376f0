namespace Qcow2Mount.Mounting;

/// <summary>How an image is presented as disk.raw.</summary>
public enum MountMode
{
    /// <summary>Opened read-only: writes fail with EROFS, the image file never changes.</summary>
    ReadOnly,
    /// <summary>Writes go into the image (lazy refcounts, flushed on fsync, clean close on unmount).</summary>
    Writable,
    /// <summary>Writes go into a new overlay image backed by the untouched original.</summary>
    Overlay,
    /// <summary>An internal snapshot, read-only.</summary>
    Snapshot,
}
