namespace Qcow2Mount.PowerShell;

/// <summary>How a mounted image's raw file can be used, named as Mount-DiskImage's -Access names it.</summary>
public enum Qcow2ImageAccess
{
    /// <summary>disk.raw refuses writes; the image's bytes never change.</summary>
    ReadOnly,

    /// <summary>disk.raw takes writes: into the image itself, or with -Overlay into an overlay file.</summary>
    ReadWrite,
}
