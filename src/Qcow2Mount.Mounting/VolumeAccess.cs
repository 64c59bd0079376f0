namespace Qcow2Mount.Mounting;

/// <summary>The data access an open handle was granted.</summary>
[Flags]
public enum VolumeAccess
{
    /// <summary>Attributes only (Windows opens for FILE_READ_ATTRIBUTES and the like).</summary>
    None = 0,
    Read = 1,
    Write = 2,
    ReadWrite = Read | Write,
}

/// <summary>The access a handle lets later handles on the same file have (Windows share modes; POSIX shares all).</summary>
[Flags]
public enum VolumeShare
{
    None = 0,
    Read = 1,
    Write = 2,
    All = Read | Write,
}
