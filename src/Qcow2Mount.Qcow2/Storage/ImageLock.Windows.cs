namespace Qcow2Mount.Qcow2.Storage;

/// <summary>
/// The Windows half of <see cref="ImageLock"/>: share modes, which Windows checks when a file is opened, so the open
/// itself is the lock and a conflict is a sharing violation. Every handle asks for Delete sharing (a rename or
/// delete of the image is not what the lock is about).
/// <list type="bullet">
/// <item>A writer that locks shares reading only: a second writer, and a reader that locks, are refused.</item>
/// <item>A reader that locks shares reading only too, so a writer cannot open the image while it reads (a
/// read-only mount keeps <c>snapshot</c> and <c>resize</c> out); with force-share it shares writing as well.</item>
/// <item>Plain readers and writers that do not lock share everything, so they disturb nobody.</item>
/// </list>
/// Unlike the Linux half there is no telling which kind of opener refused us, and QEMU on Windows takes no
/// byte locks: its own share mode decides.
/// </summary>
internal static partial class ImageLock
{
    /// <summary>ERROR_SHARING_VIOLATION as an HRESULT: another handle's share mode refuses our access.</summary>
    public const int SharingViolation = unchecked((int)0x80070020);

    /// <summary>ERROR_LOCK_VIOLATION as an HRESULT: another handle holds a byte range lock that we need.</summary>
    public const int LockViolation = unchecked((int)0x80070021);

    /// <summary>The share mode for an open of the given kind (see the type's summary).</summary>
    public static FileShare WindowsShareMode(bool writable, bool lockWriter, bool lockReader, bool forceShare)
    {
        bool locks = writable ? lockWriter : lockReader && !forceShare;
        return (locks ? FileShare.Read : FileShare.ReadWrite) | FileShare.Delete;
    }

    /// <summary>True for the HRESULTs of an open refused by another handle: sharing or lock violation.</summary>
    public static bool IsSharingViolation(int hresult) => hresult is SharingViolation or LockViolation;
}
