using System.Diagnostics.CodeAnalysis;

namespace Qcow2Mount.Mounting.Windows;

/// <summary>What NtCreateFile does when the file exists or not (the NT values 0..5).</summary>
[SuppressMessage("Design", "CA1028:Enum storage should be Int32", Justification = "The values are Windows' own 32-bit unsigned constants, passed to the drivers as they are.")]
public enum WindowsCreateDisposition : uint
{
    /// <summary>FILE_SUPERSEDE: replace if it exists, create if not.</summary>
    Supersede = 0,
    /// <summary>FILE_CREATE: fail if it exists, create if not.</summary>
    Create = 1,
    /// <summary>FILE_OPEN: open if it exists, fail if not.</summary>
    Open = 2,
    /// <summary>FILE_OPEN_IF: open if it exists, create if not.</summary>
    OpenIf = 3,
    /// <summary>FILE_OVERWRITE: truncate if it exists, fail if not.</summary>
    Overwrite = 4,
    /// <summary>FILE_OVERWRITE_IF: truncate if it exists, create if not.</summary>
    OverwriteIf = 5,
}

/// <summary>ACCESS_MASK bits for files (winnt.h).</summary>
[Flags]
[SuppressMessage("Design", "CA1028:Enum storage should be Int32", Justification = "The values are Windows' own 32-bit unsigned constants, passed to the drivers as they are.")]
public enum WindowsAccess : uint
{
    None = 0,
    /// <summary>FILE_READ_DATA (FILE_LIST_DIRECTORY on directories).</summary>
    ReadData = 0x0001,
    /// <summary>FILE_WRITE_DATA (FILE_ADD_FILE on directories).</summary>
    WriteData = 0x0002,
    /// <summary>FILE_APPEND_DATA (FILE_ADD_SUBDIRECTORY on directories).</summary>
    AppendData = 0x0004,
    /// <summary>FILE_READ_EA</summary>
    ReadExtendedAttributes = 0x0008,
    /// <summary>FILE_WRITE_EA</summary>
    WriteExtendedAttributes = 0x0010,
    /// <summary>FILE_EXECUTE (FILE_TRAVERSE on directories).</summary>
    Execute = 0x0020,
    /// <summary>FILE_DELETE_CHILD</summary>
    DeleteChild = 0x0040,
    /// <summary>FILE_READ_ATTRIBUTES</summary>
    ReadAttributes = 0x0080,
    /// <summary>FILE_WRITE_ATTRIBUTES</summary>
    WriteAttributes = 0x0100,
    /// <summary>DELETE</summary>
    Delete = 0x00010000,
    /// <summary>READ_CONTROL</summary>
    ReadControl = 0x00020000,
    /// <summary>WRITE_DAC</summary>
    WriteDac = 0x00040000,
    /// <summary>WRITE_OWNER</summary>
    WriteOwner = 0x00080000,
    /// <summary>SYNCHRONIZE</summary>
    Synchronize = 0x00100000,
    /// <summary>MAXIMUM_ALLOWED: grant whatever the file allows.</summary>
    MaximumAllowed = 0x02000000,
    /// <summary>GENERIC_ALL</summary>
    GenericAll = 0x10000000,
    /// <summary>GENERIC_EXECUTE</summary>
    GenericExecute = 0x20000000,
    /// <summary>GENERIC_WRITE</summary>
    GenericWrite = 0x40000000,
    /// <summary>GENERIC_READ</summary>
    GenericRead = 0x80000000,

    /// <summary>FILE_GENERIC_READ, what GENERIC_READ maps to.</summary>
    FileGenericRead = ReadData | ReadAttributes | ReadExtendedAttributes | ReadControl | Synchronize,
    /// <summary>FILE_GENERIC_WRITE, what GENERIC_WRITE maps to.</summary>
    FileGenericWrite = WriteData | AppendData | WriteAttributes | WriteExtendedAttributes | ReadControl | Synchronize,
    /// <summary>FILE_GENERIC_EXECUTE, what GENERIC_EXECUTE maps to.</summary>
    FileGenericExecute = Execute | ReadAttributes | ReadControl | Synchronize,
    /// <summary>FILE_ALL_ACCESS, what GENERIC_ALL maps to.</summary>
    FileAllAccess = 0x001F01FF,
}

/// <summary>FILE_SHARE_* bits: what later opens of the same file may do while this handle is open.</summary>
[Flags]
[SuppressMessage("Design", "CA1028:Enum storage should be Int32", Justification = "The values are Windows' own 32-bit unsigned constants, passed to the drivers as they are.")]
public enum WindowsShareAccess : uint
{
    None = 0,
    Read = 0x1,
    Write = 0x2,
    Delete = 0x4,
    All = Read | Write | Delete,
}

/// <summary>The CreateOptions bits the volume looks at.</summary>
[Flags]
[SuppressMessage("Design", "CA1028:Enum storage should be Int32", Justification = "The values are Windows' own 32-bit unsigned constants, passed to the drivers as they are.")]
public enum WindowsCreateOptions : uint
{
    None = 0,
    /// <summary>FILE_DIRECTORY_FILE: the target must be a directory.</summary>
    DirectoryFile = 0x00000001,
    /// <summary>FILE_WRITE_THROUGH</summary>
    WriteThrough = 0x00000002,
    /// <summary>FILE_NON_DIRECTORY_FILE: the target must not be a directory.</summary>
    NonDirectoryFile = 0x00000040,
    /// <summary>FILE_DELETE_ON_CLOSE</summary>
    DeleteOnClose = 0x00001000,
}

/// <summary>What a successful create did (the IoStatus.Information values FILE_SUPERSEDED..FILE_DOES_NOT_EXIST).</summary>
public enum WindowsCreateAction
{
    None = -1,
    Superseded = 0,
    Opened = 1,
    Created = 2,
    Overwritten = 3,
}

/// <summary>An NtCreateFile / IRP_MJ_CREATE as the Windows adapters receive it, with the file name relative to the volume root.</summary>
public readonly record struct WindowsCreateRequest(
    string FileName,
    WindowsCreateDisposition Disposition,
    WindowsAccess DesiredAccess,
    WindowsShareAccess ShareAccess = WindowsShareAccess.All,
    WindowsCreateOptions Options = WindowsCreateOptions.None);

/// <summary>
/// The result of a create: <see cref="Status"/> to return, and on success the handle (close it with
/// <see cref="Volume.Close"/>), the node and what happened.
/// </summary>
public readonly record struct WindowsCreateOutcome(NtStatus Status, ulong Handle, VolumeNode? Node, WindowsCreateAction Action)
{
    public bool Succeeded => Status == NtStatus.Success;

    internal static WindowsCreateOutcome Fail(NtStatus status) => new(status, 0, null, WindowsCreateAction.None);
}
