using Qcow2Mount.Mounting.Windows;
using Qcow2Mount.WinFsp;

namespace Qcow2Mount.Adapters.Tests.Contract;

/// <summary>Drives <see cref="WinFspFileSystem"/> as WinFsp's dispatcher does (after its own access and share checks).</summary>
internal sealed class WinFspDriver : AdapterDriver
{
    private WinFspFileSystem? _fileSystem;

    public List<string> Log { get; } = [];

    public override string Name => "winfsp";

    public override NtStatus EndOfFileStatus => NtStatus.EndOfFile;

    public override bool ListsDotEntries => true;

    private WinFspFileSystem Fs => _fileSystem ?? throw new InvalidOperationException("not attached");

    public override void Attach(WindowsVolume volume) => _fileSystem = new WinFspFileSystem(volume, Log.Add);

    public override NtStatus Open(string path, WindowsCreateDisposition disposition, WindowsAccess access,
        WindowsShareAccess share, bool directory, out object? file)
    {
        file = null;
        uint options = directory ? (uint)WindowsCreateOptions.DirectoryFile : 0;
        // WinFsp asks for the security first, and fails the open itself when the name is not there.
        byte[] descriptor = [];
        var byName = (NtStatus)Fs.GetSecurityByName(path, out _, ref descriptor);
        int status;
        object node, desc;
        if (byName == NtStatus.ObjectNameNotFound && disposition != WindowsCreateDisposition.Open && disposition != WindowsCreateDisposition.Overwrite)
        {
            status = Fs.Create(path, options, (uint)access, 0, [], 0, out node, out desc, out _, out _);
        }
        else if (byName != NtStatus.Success)
        {
            return byName;
        }
        else if (disposition == WindowsCreateDisposition.Create)
        {
            return NtStatus.ObjectNameCollision;
        }
        else
        {
            status = Fs.Open(path, options, (uint)access, out node, out desc, out _, out _);
            if (status == 0 && disposition is WindowsCreateDisposition.Overwrite or WindowsCreateDisposition.OverwriteIf or WindowsCreateDisposition.Supersede)
            {
                int overwrite = Fs.Overwrite(node, desc, 0, false, 0, out _);
                if (overwrite != 0)
                {
                    Fs.Cleanup(node, desc, path, 0);
                    Fs.Close(node, desc);
                    return (NtStatus)overwrite;
                }
            }
        }

        file = status == 0 ? desc : null;
        return (NtStatus)status;
    }

    public override unsafe NtStatus Read(object file, long offset, byte* buffer, int length, out int bytesRead)
    {
        var status = (NtStatus)Fs.Read(file, file, (IntPtr)buffer, (ulong)offset, (uint)length, out uint read);
        bytesRead = (int)read;
        return status;
    }

    public override unsafe NtStatus Write(object file, long offset, byte* data, int length, out int bytesWritten)
    {
        var status = (NtStatus)Fs.Write(file, file, (IntPtr)data, (ulong)offset, (uint)length, false, false, out uint written, out _);
        bytesWritten = (int)written;
        return status;
    }

    public override NtStatus Flush(object? file) => (NtStatus)Fs.Flush(file!, file!, out _);

    public override NtStatus GetInfo(object file, out AdapterFileInfo info)
    {
        var status = (NtStatus)Fs.GetFileInfo(file, file, out var fi);
        info = new AdapterFileInfo((FileAttributes)fi.FileAttributes, (long)fi.FileSize,
            DateTime.FromFileTimeUtc((long)fi.CreationTime), DateTime.FromFileTimeUtc((long)fi.LastAccessTime),
            DateTime.FromFileTimeUtc((long)fi.LastWriteTime), fi.IndexNumber);
        return status;
    }

    public override NtStatus List(object directory, string? pattern, out IReadOnlyList<string> names)
    {
        // As SeekableReadDirectory does: entries until the callback says there are no more.
        var list = new List<string>();
        object context = null!;
        while (Fs.ReadDirectoryEntry(directory, directory, pattern!, null!, ref context, out string name, out _))
        {
            list.Add(name);
        }

        names = list;
        return NtStatus.Success;
    }

    /// <summary>A listing resumed after <paramref name="marker"/>, as WinFsp asks when the first buffer was full.</summary>
    public IReadOnlyList<string> ListAfter(object directory, string marker)
    {
        var list = new List<string>();
        object context = null!;
        while (Fs.ReadDirectoryEntry(directory, directory, null!, marker, ref context, out string name, out _))
        {
            list.Add(name);
        }

        return list;
    }

    public override NtStatus GetSecurity(object file, out byte[] descriptor)
    {
        descriptor = [];
        return (NtStatus)Fs.GetSecurity(file, file, ref descriptor);
    }

    public override NtStatus SetSize(object file, long size) => (NtStatus)Fs.SetFileSize(file, file, (ulong)size, false, out _);

    public override NtStatus Delete(object file) => (NtStatus)Fs.CanDelete(file, file, "");

    public override NtStatus Rename(object file, string newPath) => (NtStatus)Fs.Rename(file, file, "", newPath, false);

    public override NtStatus SetTimes(object file) => (NtStatus)Fs.SetBasicInfo(file, file, 0, 0, 0, 1, 0, out _);

    public override AdapterVolumeInfo VolumeInfo()
    {
        Fs.GetVolumeInfo(out var info);
        var volume = Fs.Volume.VolumeInfo;
        return new AdapterVolumeInfo(LabelOf(info), (long)info.TotalSize, (long)info.FreeSize, volume.SerialNumber,
            volume.Flags.HasFlag(WindowsVolumeFlags.ReadOnlyVolume));
    }

    public override void Close(object file)
    {
        Fs.Cleanup(file, file, "", 0);
        Fs.Close(file, file);
    }

    /// <summary>The label as the VolumeInfo struct carries it (length in bytes, then UTF-16).</summary>
    private static unsafe string LabelOf(Fsp.Interop.VolumeInfo info)
    {
        var bytes = new ReadOnlySpan<byte>(&info, sizeof(Fsp.Interop.VolumeInfo));
        int length = bytes[16] | bytes[17] << 8;
        return new string(System.Runtime.InteropServices.MemoryMarshal.Cast<byte, char>(bytes.Slice(18, length)));
    }
}
