using System.Diagnostics.CodeAnalysis;

namespace Qcow2Mount.Mounting.Windows;

/// <summary>
/// Windows semantics over a <see cref="Volume"/>: create dispositions, access masks and share modes evaluated
/// the way NTFS would for a fixed set of files, directory listing with Windows patterns, file and volume
/// information, and every data operation returning an NTSTATUS. The WinFsp and Dokan adapters only marshal.
/// Names are looked up without regard to case.
/// </summary>
public sealed class WindowsVolume
{
    public const string FileSystemName = "Qcow2Mount";
    public const int SectorSize = 512;
    public const int AllocationUnit = 4096;

    private const WindowsAccess DataReadBits = WindowsAccess.ReadData | WindowsAccess.Execute;
    private const WindowsAccess DataWriteBits = WindowsAccess.WriteData | WindowsAccess.AppendData;
    private const WindowsAccess MetadataWriteBits = WindowsAccess.WriteAttributes | WindowsAccess.WriteExtendedAttributes
        | WindowsAccess.WriteDac | WindowsAccess.WriteOwner | WindowsAccess.DeleteChild;

    private readonly DateTimeOffset _creationTime;
    private readonly DateTimeOffset _mountTime;

    /// <summary>UTC ticks of the last write through this mount (the image's mtime until then).</summary>
    private long _lastWriteTicks;

    /// <param name="volume">The volume to present.</param>
    /// <param name="ownerSid">The mounting user's SID, owner of every file; null for BUILTIN\Administrators.</param>
    /// <param name="log">Receives one line for each unexpected exception turned into a status.</param>
    /// <param name="readOnly">Refuse every change even when the volume could write (<see cref="MountOptions.ReadOnly"/>).</param>
    public WindowsVolume(Volume volume, string? ownerSid = null, Action<string>? log = null, bool readOnly = false)
    {
        ArgumentNullException.ThrowIfNull(volume);
        Volume = volume;
        IsReadOnly = readOnly || volume.IsReadOnly;
        Security = new WindowsSecurity(ownerSid ?? WindowsSecurity.AdministratorsSid);
        _log = log;
        _mountTime = DateTimeOffset.UtcNow;
        _lastWriteTicks = volume.Timestamp.UtcTicks;
        _creationTime = CreationTimeOf(volume);
        SerialNumber = SerialNumberOf(volume.ImagePath ?? volume.Label);
    }

    private readonly Action<string>? _log;

    public Volume Volume { get; }

    /// <summary>True when this mount refuses every change: the volume is read-only, or the mount was asked to be.</summary>
    public bool IsReadOnly { get; }

    /// <summary>The descriptors every security query answers with.</summary>
    public WindowsSecurity Security { get; }

    /// <summary>Hash of the image's full path (the label when there is none): stable across mounts of one image, distinct between images.</summary>
    public uint SerialNumber { get; }

    /// <summary>Label, file system name, flags and sizes for GetVolumeInformation / GetVolumeInfo.</summary>
    public WindowsVolumeInfo VolumeInfo
    {
        get
        {
            var space = Volume.GetSpace();
            var flags = WindowsVolumeFlags.CasePreservedNames | WindowsVolumeFlags.UnicodeOnDisk | WindowsVolumeFlags.PersistentAcls;
            if (IsReadOnly)
            {
                flags |= WindowsVolumeFlags.ReadOnlyVolume;
            }

            // Windows volume labels hold at most 32 characters.
            string label = Volume.Label.Length > 32 ? Volume.Label[..32] : Volume.Label;
            return new WindowsVolumeInfo(label, FileSystemName, flags, SerialNumber, SectorSize,
                AllocationUnit, space.TotalBytes, space.FreeBytes, MaxComponentLength: 255);
        }
    }

    /// <summary>Evaluates an IRP_MJ_CREATE: either a new handle or the NTSTATUS to fail it with.</summary>
    public WindowsCreateOutcome Create(in WindowsCreateRequest request)
    {
        var options = request.Options;
        if (options.HasFlag(WindowsCreateOptions.DirectoryFile) && options.HasFlag(WindowsCreateOptions.NonDirectoryFile)
            || request.Disposition > WindowsCreateDisposition.OverwriteIf)
        {
            return WindowsCreateOutcome.Fail(NtStatus.InvalidParameter);
        }

        if (!TrySplitStream(request.FileName, out string fileName, out bool namedStream))
        {
            return WindowsCreateOutcome.Fail(NtStatus.ObjectNameInvalid);
        }

        var node = Volume.Find(fileName, PathStyle.Windows);
        if (node is null)
        {
            return CreateMissing(request with { FileName = fileName });
        }

        if (namedStream)
        {
            // No alternate data streams: none exists, and none can be made.
            return request.Disposition is WindowsCreateDisposition.Open or WindowsCreateDisposition.Overwrite
                ? WindowsCreateOutcome.Fail(NtStatus.ObjectNameNotFound)
                : WindowsCreateOutcome.Fail(RefusedChange(node));
        }

        if (request.Disposition == WindowsCreateDisposition.Create)
        {
            return WindowsCreateOutcome.Fail(NtStatus.ObjectNameCollision);
        }

        if (options.HasFlag(WindowsCreateOptions.DirectoryFile) && !node.IsDirectory)
        {
            return WindowsCreateOutcome.Fail(NtStatus.NotADirectory);
        }

        if (options.HasFlag(WindowsCreateOptions.NonDirectoryFile) && node.IsDirectory)
        {
            return WindowsCreateOutcome.Fail(NtStatus.FileIsADirectory);
        }

        if (request.Disposition is WindowsCreateDisposition.Supersede or WindowsCreateDisposition.Overwrite
            or WindowsCreateDisposition.OverwriteIf)
        {
            // Replacing the file would truncate the disk to nothing; a directory cannot be overwritten at all.
            return WindowsCreateOutcome.Fail(node.IsDirectory ? NtStatus.InvalidParameter : RefusedChange(node));
        }

        var access = MapGeneric(request.DesiredAccess);
        if (access.HasFlag(WindowsAccess.MaximumAllowed))
        {
            access |= WindowsAccess.FileGenericRead | (IsWritableFile(node) ? DataWriteBits : 0);
        }

        if (access.HasFlag(WindowsAccess.Delete) || options.HasFlag(WindowsCreateOptions.DeleteOnClose))
        {
            return WindowsCreateOutcome.Fail(RefusedChange(node));
        }

        if ((access & DataWriteBits) != 0 && !node.IsDirectory && !IsWritableFile(node)
            || (access & (DataWriteBits | MetadataWriteBits)) != 0 && IsReadOnly)
        {
            return WindowsCreateOutcome.Fail(RefusedChange(node));
        }

        var volumeAccess = VolumeAccess.None;
        if ((access & DataReadBits) != 0)
        {
            volumeAccess |= VolumeAccess.Read;
        }

        // On a directory, FILE_ADD_FILE / FILE_ADD_SUBDIRECTORY are not data access; creating in it fails later.
        if ((access & DataWriteBits) != 0 && !node.IsDirectory)
        {
            volumeAccess |= VolumeAccess.Write;
        }

        var share = (request.ShareAccess.HasFlag(WindowsShareAccess.Read) ? VolumeShare.Read : VolumeShare.None)
            | (request.ShareAccess.HasFlag(WindowsShareAccess.Write) ? VolumeShare.Write : VolumeShare.None);
        try
        {
            ulong handle = Volume.Open(node, volumeAccess, share);
            return new WindowsCreateOutcome(NtStatus.Success, handle, node, WindowsCreateAction.Opened);
        }
        catch (VolumeException e)
        {
            return WindowsCreateOutcome.Fail(NtStatusTable.From(e.Code));
        }
    }

    /// <summary>
    /// Reads into <paramref name="buffer"/>. At or past the end of the file a non-empty read returns 0 bytes with
    /// <paramref name="atEnd"/>'s answer: STATUS_END_OF_FILE (what WinFsp expects) or success (what Dokan expects).
    /// </summary>
    public NtStatus Read(ulong handle, long offset, Span<byte> buffer, out int bytesRead, WindowsEndOfFile atEnd = WindowsEndOfFile.Success)
    {
        bytesRead = 0;
        try
        {
            bytesRead = Volume.Read(handle, offset, buffer);
            return bytesRead == 0 && !buffer.IsEmpty && atEnd == WindowsEndOfFile.EndOfFileStatus ? NtStatus.EndOfFile : NtStatus.Success;
        }
#pragma warning disable CA1031 // Called for a Windows driver: any failure becomes a status and a log line, never a crashed service.
        catch (Exception e)
#pragma warning restore CA1031
        {
            return Fail(nameof(Read), e);
        }
    }

    /// <summary>Writes <paramref name="data"/>; the file never grows, so a write past the end is cut short or fails with DISK_FULL.</summary>
    public NtStatus Write(ulong handle, long offset, ReadOnlySpan<byte> data, out int bytesWritten)
    {
        bytesWritten = 0;
        try
        {
            bytesWritten = Volume.Write(handle, offset, data);
            Touch();
            return NtStatus.Success;
        }
#pragma warning disable CA1031 // Called for a Windows driver: any failure becomes a status and a log line, never a crashed service.
        catch (Exception e)
#pragma warning restore CA1031
        {
            return Fail(nameof(Write), e);
        }
    }

    /// <summary>
    /// FSCTL_SET_ZERO_DATA: [<paramref name="offset"/>, <paramref name="beyondFinalZero"/>) reads as zeros afterwards;
    /// the image may give the clusters back. The range is cut at the end of the file.
    /// </summary>
    public NtStatus ZeroData(ulong handle, long offset, long beyondFinalZero)
    {
        if (offset < 0 || beyondFinalZero < offset)
        {
            return NtStatus.InvalidParameter;
        }

        return Run(nameof(ZeroData), () =>
        {
            Volume.ZeroRange(handle, offset, beyondFinalZero - offset, deallocate: true);
            Touch();
        });
    }

    /// <summary>FlushFileBuffers: makes completed writes durable.</summary>
    public NtStatus Flush(ulong handle) => Run(nameof(Flush), () => Volume.Flush(handle));

    /// <summary>A flush without a file (WinFsp's volume flush): makes every completed write durable.</summary>
    public NtStatus FlushVolume() => Run(nameof(FlushVolume), Volume.FlushAll);

    /// <summary>SetEndOfFile / SetAllocationSize: only the current size is accepted.</summary>
    public NtStatus SetFileSize(ulong handle, long size) => Run(nameof(SetFileSize), () => Volume.SetLength(handle, size));

    /// <summary>
    /// IRP_MJ_CLEANUP, the last CloseHandle of an open: a handle that could write flushes, so what an application
    /// wrote is durable once it closed the file (as FUSE's flush on close does). Returns what that flush returned,
    /// for the adapter to log: Windows does not see a cleanup's status.
    /// </summary>
    public NtStatus Cleanup(ulong handle) => Run(nameof(Cleanup), () =>
    {
        if (Volume.AccessOf(handle).HasFlag(VolumeAccess.Write))
        {
            Volume.Flush(handle);
        }
    });

    /// <summary>Close (after Cleanup): releases the handle.</summary>
    public NtStatus Close(ulong handle) => Run(nameof(Close), () => Volume.Close(handle));

    /// <summary>
    /// FILE_OVERWRITE / FILE_SUPERSEDE of an open file (WinFsp's Overwrite): would truncate the disk, so refused
    /// like every other change of size.
    /// </summary>
    public NtStatus Overwrite(ulong handle) => TryNode(handle, out var node, out var status)
        ? node.IsDirectory ? NtStatus.InvalidParameter : RefusedChange(node)
        : status;

    /// <summary>Whether an open file or directory may be deleted (WinFsp CanDelete, Dokan DeleteFile/DeleteDirectory): never.</summary>
    public NtStatus CanDelete(ulong handle) => TryNode(handle, out var node, out var status) ? RefusedChange(node) : status;

    /// <summary>Renames and moves: names are fixed.</summary>
    public NtStatus Rename(ulong handle) => TryNode(handle, out var node, out var status) ? RefusedChange(node) : status;

    /// <summary>
    /// SetFileAttributes / SetFileTime / SetBasicInfo: attributes and times are fixed. A writable volume accepts the
    /// request without changing anything (copy tools set times after writing, and failing them would fail the copy);
    /// a read-only one answers STATUS_MEDIA_WRITE_PROTECTED.
    /// </summary>
    public NtStatus SetBasicInfo(ulong handle) => TryNode(handle, out _, out var status)
        ? IsReadOnly ? NtStatus.MediaWriteProtected : NtStatus.Success
        : status;

    /// <summary>The security descriptor of an open file or directory (self-relative bytes, shared: do not change them).</summary>
    public NtStatus GetSecurity(ulong handle, out byte[] descriptor)
    {
        descriptor = [];
        if (!TryNode(handle, out var node, out var status))
        {
            return status;
        }

        descriptor = SecurityOf(node);
        return NtStatus.Success;
    }

    /// <summary>Changing a security descriptor: refused like every other change of metadata.</summary>
    public NtStatus SetSecurity(ulong handle) => TryNode(handle, out var node, out var status) ? RefusedChange(node) : status;

    /// <summary>
    /// WinFsp's GetSecurityByName, asked before every open: the attributes and descriptor of a path, or the status
    /// an open of it will fail with (name or path not found).
    /// </summary>
    public NtStatus GetSecurityByName(string fileName, out FileAttributes attributes, out byte[] descriptor)
    {
        attributes = 0;
        descriptor = [];
        if (!TrySplitStream(fileName, out string path, out bool namedStream))
        {
            return NtStatus.ObjectNameInvalid;
        }

        if (Volume.Find(path, PathStyle.Windows) is not { } node || namedStream)
        {
            return Volume.Find(Volume.ParentOf(path, PathStyle.Windows), PathStyle.Windows) is { IsDirectory: true }
                ? NtStatus.ObjectNameNotFound
                : NtStatus.ObjectPathNotFound;
        }

        attributes = InfoOf(node).Attributes;
        descriptor = SecurityOf(node);
        return NtStatus.Success;
    }

    /// <summary>The descriptor of a node: write rights only on files this mount can write.</summary>
    public byte[] SecurityOf(VolumeNode node)
    {
        ArgumentNullException.ThrowIfNull(node);
        return Security.DescriptorFor(writable: IsWritableFile(node));
    }

    /// <summary>The node an open handle is on, or the status to fail a request on an unknown handle with.</summary>
    public bool TryNode(ulong handle, out VolumeNode node, out NtStatus status)
    {
        try
        {
            node = Volume.NodeOf(handle);
            status = NtStatus.Success;
            return true;
        }
#pragma warning disable CA1031 // Called for a Windows driver: any failure becomes a status and a log line, never a crashed service.
        catch (Exception e)
#pragma warning restore CA1031
        {
            node = Volume.Root;
            status = Fail(nameof(TryNode), e);
            return false;
        }
    }

    /// <summary>
    /// The status for an exception a callback did not expect: volume and engine errors by their code, anything else
    /// STATUS_IO_DEVICE_ERROR and a log line (a bug, not the image's fault). Never throws.
    /// </summary>
    public NtStatus Fail(string operation, Exception exception)
    {
        ArgumentNullException.ThrowIfNull(exception);
        if (exception is not (VolumeException or Qcow2Mount.Qcow2.Qcow2Exception))
        {
            try
            {
                _log?.Invoke($"{operation} failed unexpectedly: {exception.GetType().Name}: {exception.Message}");
            }
#pragma warning disable CA1031 // A failing log must not turn a status into a crash.
            catch (Exception)
#pragma warning restore CA1031
            {
                // A failing log must not turn a status into a crash.
            }
        }

        return NtStatusTable.From(exception);
    }

    /// <summary>GetFileInformation for an open handle.</summary>
    public NtStatus GetFileInfo(ulong handle, out WindowsFileInfo info)
    {
        info = default;
        try
        {
            info = InfoOf(Volume.NodeOf(handle));
            return NtStatus.Success;
        }
#pragma warning disable CA1031 // Called for a Windows driver: any failure becomes a status and a log line, never a crashed service.
        catch (Exception e)
#pragma warning restore CA1031
        {
            return Fail(nameof(GetFileInfo), e);
        }
    }

    /// <summary>
    /// Entries of a directory matching <paramref name="pattern"/> (Windows wildcards, ignoring case), sorted by name
    /// without regard to case as NTFS does. "." and ".." are not included.
    /// </summary>
    public NtStatus List(string directoryPath, string? pattern, out IReadOnlyList<WindowsFileInfo> entries) =>
        List(directoryPath, pattern, marker: null, includeDotEntries: false, out entries);

    /// <summary>
    /// Entries of a directory matching <paramref name="pattern"/>, in listing order: "." and ".." first (outside the
    /// root, when <paramref name="includeDotEntries"/>: WinFsp wants them from the file system, Dokan adds its own),
    /// then names sorted without regard to case as NTFS does. With a <paramref name="marker"/> (the last name a
    /// previous call returned) the listing resumes after it, whether or not the marker still exists.
    /// </summary>
    public NtStatus List(string directoryPath, string? pattern, string? marker, bool includeDotEntries, out IReadOnlyList<WindowsFileInfo> entries)
    {
        entries = [];
        try
        {
            var directory = Volume.Lookup(directoryPath, PathStyle.Windows);
            var list = new List<WindowsFileInfo>(directory.Children.Count + 2);
            if (!directory.IsDirectory)
            {
                return NtStatus.NotADirectory;
            }

            if (includeDotEntries && directory != Volume.Root)
            {
                if (WindowsNamePattern.IsMatch(".", pattern))
                {
                    list.Add(InfoOf(directory) with { Name = "." });
                }

                if (WindowsNamePattern.IsMatch("..", pattern))
                {
                    list.Add(InfoOf(Volume.Lookup(Volume.ParentOf(directory.Path))) with { Name = ".." });
                }
            }

            list.AddRange(directory.Children.Where(node => WindowsNamePattern.IsMatch(node.Name, pattern)).Select(InfoOf));
            list.Sort((a, b) => CompareListingNames(a.Name, b.Name));
            if (marker is not null)
            {
                list.RemoveAll(entry => CompareListingNames(entry.Name, marker) <= 0);
            }

            entries = list;
            return NtStatus.Success;
        }
#pragma warning disable CA1031 // Called for a Windows driver: any failure becomes a status and a log line, never a crashed service.
        catch (Exception e)
#pragma warning restore CA1031
        {
            return Fail(nameof(List), e);
        }
    }

    /// <summary>Listing order: ".", "..", then names ignoring case (ordinal, as NTFS's upcase table does for these names).</summary>
    public static int CompareListingNames(string a, string b)
    {
        static int Rank(string name) => name switch { "." => 0, ".." => 1, _ => 2 };
        int rank = Rank(a).CompareTo(Rank(b));
        return rank != 0 ? rank : StringComparer.OrdinalIgnoreCase.Compare(a, b);
    }

    /// <summary>Attributes, sizes and times of a node as Windows shows them.</summary>
    public WindowsFileInfo InfoOf(VolumeNode node)
    {
        ArgumentNullException.ThrowIfNull(node);
        var attributes = node.IsDirectory ? FileAttributes.Directory : FileAttributes.Archive;
        if ((node.IsReadOnly || IsReadOnly) && !node.IsDirectory)
        {
            attributes |= FileAttributes.ReadOnly;
        }

        long allocation = (node.Length + AllocationUnit - 1) / AllocationUnit * AllocationUnit;
        return new WindowsFileInfo(node.Name, attributes, node.Length, allocation, TimesOf(node), node.Id);
    }

    /// <summary>
    /// The four Windows times of a node. Creation: the image file's creation time. Last write and change: the image's
    /// mtime at mount, then the time of the last write through this mount (the active disk only; snapshots and
    /// directories never change). Last access: the mount's start, or a later write.
    /// </summary>
    public WindowsFileTimes TimesOf(VolumeNode node)
    {
        ArgumentNullException.ThrowIfNull(node);
        var lastWrite = node.IsDirectory || node.IsReadOnly
            ? Volume.Timestamp
            : new DateTimeOffset(Interlocked.Read(ref _lastWriteTicks), TimeSpan.Zero);
        var lastAccess = lastWrite > _mountTime ? lastWrite : _mountTime;
        return new WindowsFileTimes(_creationTime, lastAccess, lastWrite, lastWrite);
    }

    /// <summary>
    /// Splits "name:stream:type" into the file name and whether a named (alternate) stream was asked for; the
    /// unnamed data stream ("name::$DATA") is the file itself. False for a malformed name.
    /// </summary>
    public static bool TrySplitStream(string fileName, out string path, out bool namedStream)
    {
        ArgumentNullException.ThrowIfNull(fileName);
        int colon = fileName.IndexOf(':', StringComparison.Ordinal);
        if (colon < 0)
        {
            (path, namedStream) = (fileName, false);
            return true;
        }

        path = fileName[..colon];
        var stream = fileName.AsSpan(colon + 1);
        int typeColon = stream.IndexOf(':');
        var name = typeColon < 0 ? stream : stream[..typeColon];
        var type = typeColon < 0 ? [] : stream[(typeColon + 1)..];
        namedStream = !name.IsEmpty;
        return type.IsEmpty && !name.IsEmpty || type.Equals("$DATA", StringComparison.OrdinalIgnoreCase);
    }

    private void Touch()
    {
        long now = DateTimeOffset.UtcNow.UtcTicks;
        long seen = Interlocked.Read(ref _lastWriteTicks);
        while (now > seen)
        {
            long was = Interlocked.CompareExchange(ref _lastWriteTicks, now, seen);
            if (was == seen)
            {
                break;
            }

            seen = was;
        }
    }

    private static DateTimeOffset CreationTimeOf(Volume volume)
    {
        if (volume.ImagePath is { } path)
        {
            try
            {
                var created = new DateTimeOffset(File.GetCreationTimeUtc(path), TimeSpan.Zero);
                // Without a birth time some systems report the epoch or a time after the mtime: use the mtime then.
                if (created.Year > 1601 && created <= volume.Timestamp)
                {
                    return created;
                }
            }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException or ArgumentException or NotSupportedException)
            {
                // Fall back to the mtime below.
            }
        }

        return volume.Timestamp;
    }

    private WindowsCreateOutcome CreateMissing(in WindowsCreateRequest request)
    {
        string parentPath = Volume.ParentOf(request.FileName, PathStyle.Windows);
        if (Volume.Find(parentPath, PathStyle.Windows) is not { IsDirectory: true } parent)
        {
            return WindowsCreateOutcome.Fail(NtStatus.ObjectPathNotFound);
        }

        return request.Disposition is WindowsCreateDisposition.Open or WindowsCreateDisposition.Overwrite
            ? WindowsCreateOutcome.Fail(NtStatus.ObjectNameNotFound)
            : WindowsCreateOutcome.Fail(RefusedChange(parent));
    }

    /// <summary>What to answer a change the volume never allows: write-protected media, or a denied access.</summary>
    private NtStatus RefusedChange(VolumeNode node) =>
        IsReadOnly ? NtStatus.MediaWriteProtected : NtStatus.AccessDenied;

    private bool IsWritableFile(VolumeNode node) => !node.IsDirectory && !node.IsReadOnly && !IsReadOnly;

    private static WindowsAccess MapGeneric(WindowsAccess access)
    {
        var mapped = access & ~(WindowsAccess.GenericRead | WindowsAccess.GenericWrite | WindowsAccess.GenericExecute | WindowsAccess.GenericAll);
        if (access.HasFlag(WindowsAccess.GenericRead))
        {
            mapped |= WindowsAccess.FileGenericRead;
        }

        if (access.HasFlag(WindowsAccess.GenericWrite))
        {
            mapped |= WindowsAccess.FileGenericWrite;
        }

        if (access.HasFlag(WindowsAccess.GenericExecute))
        {
            mapped |= WindowsAccess.FileGenericExecute;
        }

        if (access.HasFlag(WindowsAccess.GenericAll))
        {
            mapped |= WindowsAccess.FileAllAccess;
        }

        return mapped;
    }

    private NtStatus Run(string operation, Action action)
    {
        try
        {
            action();
            return NtStatus.Success;
        }
#pragma warning disable CA1031 // Called for a Windows driver: any failure becomes a status and a log line, never a crashed service.
        catch (Exception e)
#pragma warning restore CA1031
        {
            return Fail(operation, e);
        }
    }

    /// <summary>A stable serial number (FNV-1a of the image's path) so Windows sees the same volume on every mount of one image.</summary>
    private static uint SerialNumberOf(string identity)
    {
        uint hash = 2166136261;
        foreach (char c in identity)
        {
            hash = (hash ^ c) * 16777619;
        }

        return hash;
    }
}

/// <summary>FILE_* volume flags (GetVolumeInformation's file system flags).</summary>
[Flags]
[SuppressMessage("Design", "CA1028:Enum storage should be Int32", Justification = "The values are Windows' own 32-bit unsigned constants, passed to the drivers as they are.")]
public enum WindowsVolumeFlags : uint
{
    None = 0,
    CaseSensitiveSearch = 0x00000001,
    CasePreservedNames = 0x00000002,
    UnicodeOnDisk = 0x00000004,
    PersistentAcls = 0x00000008,
    ReadOnlyVolume = 0x00080000,
}

/// <summary>What Windows asks about the volume.</summary>
public readonly record struct WindowsVolumeInfo(
    string Label,
    string FileSystemName,
    WindowsVolumeFlags Flags,
    uint SerialNumber,
    int SectorSize,
    int AllocationUnit,
    long TotalBytes,
    long FreeBytes,
    int MaxComponentLength);

/// <summary>What Windows asks about a file or directory.</summary>
public readonly record struct WindowsFileInfo(
    string Name,
    FileAttributes Attributes,
    long Size,
    long AllocationSize,
    WindowsFileTimes Times,
    ulong IndexNumber);

/// <summary>The four times Windows keeps for a file (see <see cref="WindowsVolume.TimesOf"/>).</summary>
public readonly record struct WindowsFileTimes(
    DateTimeOffset Creation,
    DateTimeOffset LastAccess,
    DateTimeOffset LastWrite,
    DateTimeOffset Change);

/// <summary>What a non-empty read at or past the end of a file returns.</summary>
public enum WindowsEndOfFile
{
    /// <summary>Success with 0 bytes (Dokan).</summary>
    Success,
    /// <summary>STATUS_END_OF_FILE (WinFsp).</summary>
    EndOfFileStatus,
}
