using Qcow2Mount.Mounting.Windows;

namespace Qcow2Mount.Adapters.Tests.Contract;

/// <summary>
/// Calls one adapter's callbacks the way its driver would, in one vocabulary the contract suite speaks: NT
/// dispositions and access masks in, NTSTATUS values out.
/// </summary>
internal abstract class AdapterDriver
{
    public abstract string Name { get; }

    /// <summary>What a non-empty read at the end of a file answers with this driver.</summary>
    public abstract NtStatus EndOfFileStatus { get; }

    /// <summary>Whether the adapter lists "." and ".." itself (WinFsp) or its driver adds them (Dokan).</summary>
    public abstract bool ListsDotEntries { get; }

    public abstract void Attach(WindowsVolume volume);

    public abstract NtStatus Open(string path, WindowsCreateDisposition disposition, WindowsAccess access,
        WindowsShareAccess share, bool directory, out object? file);

    public abstract unsafe NtStatus Read(object file, long offset, byte* buffer, int length, out int bytesRead);

    public abstract unsafe NtStatus Write(object file, long offset, byte* data, int length, out int bytesWritten);

    public abstract NtStatus Flush(object? file);

    public abstract NtStatus GetInfo(object file, out AdapterFileInfo info);

    public abstract NtStatus List(object directory, string? pattern, out IReadOnlyList<string> names);

    public abstract NtStatus GetSecurity(object file, out byte[] descriptor);

    public abstract NtStatus SetSize(object file, long size);

    public abstract NtStatus Delete(object file);

    public abstract NtStatus Rename(object file, string newPath);

    public abstract NtStatus SetTimes(object file);

    public abstract AdapterVolumeInfo VolumeInfo();

    public abstract void Close(object file);

    public override string ToString() => Name;
}

internal readonly record struct AdapterFileInfo(FileAttributes Attributes, long Size, DateTime Creation, DateTime LastAccess,
    DateTime LastWrite, ulong Index);

internal readonly record struct AdapterVolumeInfo(string Label, long TotalBytes, long FreeBytes, uint SerialNumber, bool ReadOnly);
