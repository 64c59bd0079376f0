using System.Diagnostics.CodeAnalysis;
using System.Security.AccessControl;
using DokanNet;
using LTRData.Extensions.Native.Memory;
using Qcow2Mount.Dokan;
using Qcow2Mount.Mounting.Windows;
using DokanStatus = DokanNet.NtStatus;
using NtStatus = Qcow2Mount.Mounting.Windows.NtStatus;

namespace Qcow2Mount.Adapters.Tests.Contract;

/// <summary>
/// Drives <see cref="DokanOperations"/> as dokan2.dll does through DokanNet's proxy: Win32 creation dispositions,
/// names as native UTF-16, the file context in a <see cref="DokanFileInfo"/>.
/// </summary>
[SuppressMessage("Performance", "CA1812:Avoid uninstantiated internal classes", Justification = "NUnit makes it: [TestFixture(typeof(DokanDriver))] builds AdapterContractTests<DokanDriver>, which calls new TDriver().")]
internal sealed class DokanDriver : AdapterDriver
{
    private DokanOperations? _operations;

    public List<string> Log { get; } = [];

    public override string Name => "dokan";

    public override NtStatus EndOfFileStatus => NtStatus.Success;

    public override bool ListsDotEntries => false;

    private DokanOperations Ops => _operations ?? throw new InvalidOperationException("not attached");

    public override void Attach(WindowsVolume volume) => _operations = new DokanOperations(volume, Log.Add);

    public override unsafe NtStatus Open(string path, WindowsCreateDisposition disposition, WindowsAccess access,
        WindowsShareAccess share, bool directory, out object? file)
    {
        file = null;
        var mode = disposition switch
        {
            WindowsCreateDisposition.Create => FileMode.CreateNew,
            WindowsCreateDisposition.Supersede or WindowsCreateDisposition.OverwriteIf => FileMode.Create,
            WindowsCreateDisposition.Open => FileMode.Open,
            WindowsCreateDisposition.OpenIf => FileMode.OpenOrCreate,
            WindowsCreateDisposition.Overwrite => FileMode.Truncate,
            _ => (FileMode)0,
        };
        var context = new Context { Path = path };
        context.Info.IsDirectory = directory;
        DokanStatus status;
        fixed (char* name = path)
        {
            status = Ops.CreateFile(new ReadOnlyNativeMemory<char>((nint)name, path.Length), (DokanNet.FileAccess)(uint)access,
                (FileShare)(uint)share, mode, FileOptions.None, 0, ref context.Info);
        }

        // OPEN_ALWAYS on an existing file succeeds with STATUS_OBJECT_NAME_COLLISION (Win32 then sets ERROR_ALREADY_EXISTS).
        if (status == DokanStatus.ObjectNameCollision && mode == FileMode.OpenOrCreate && context.Info.Context is not null)
        {
            status = DokanStatus.Success;
        }

        file = status == DokanStatus.Success ? context : null;
        return ToNt(status);
    }

    public override unsafe NtStatus Read(object file, long offset, byte* buffer, int length, out int bytesRead)
    {
        var context = (Context)file;
        return ToNt(Ops.ReadFile(default, new NativeMemory<byte>((nint)buffer, length), out bytesRead, offset, ref context.Info));
    }

    public override unsafe NtStatus Write(object file, long offset, byte* data, int length, out int bytesWritten)
    {
        var context = (Context)file;
        return ToNt(Ops.WriteFile(default, new ReadOnlyNativeMemory<byte>((nint)data, length), out bytesWritten, offset, ref context.Info));
    }

    public override NtStatus Flush(object? file)
    {
        var info = file is Context context ? context.Info : default;
        return ToNt(Ops.FlushFileBuffers(default, ref info));
    }

    public override NtStatus GetInfo(object file, out AdapterFileInfo info)
    {
        var context = (Context)file;
        var status = Ops.GetFileInformation(default, out var fi, ref context.Info);
        info = new AdapterFileInfo(fi.Attributes, fi.Length, fi.CreationTime ?? default, fi.LastAccessTime ?? default,
            fi.LastWriteTime ?? default, (ulong)fi.FileIndex);
        return ToNt(status);
    }

    public override unsafe NtStatus List(object directory, string? pattern, out IReadOnlyList<string> names)
    {
        var context = (Context)directory;
        names = [];
        DokanStatus status;
        IEnumerable<FindFileInformation> files;
        fixed (char* name = context.Path)
        fixed (char* patternChars = pattern)
        {
            var nameMemory = new ReadOnlyNativeMemory<char>((nint)name, context.Path.Length);
            status = pattern is null
                ? Ops.FindFiles(nameMemory, out files, ref context.Info)
                : Ops.FindFilesWithPattern(nameMemory, new ReadOnlyNativeMemory<char>((nint)patternChars, pattern.Length), out files, ref context.Info);
        }

        names = files.Select(f => f.FileName.ToString()).ToList();
        return ToNt(status);
    }

    public override NtStatus GetSecurity(object file, out byte[] descriptor)
    {
        var context = (Context)file;
        if (!OperatingSystem.IsWindows())
        {
            // FileSecurity, which GetFileSecurity hands to DokanNet, exists only on Windows: check the bytes it wraps.
            return ToNt(Ops.GetSecurityDescriptor(context.Info, out descriptor));
        }

        var status = Ops.GetFileSecurity(default, out var security, AccessControlSections.Owner | AccessControlSections.Group | AccessControlSections.Access, ref context.Info);
        descriptor = security?.GetSecurityDescriptorBinaryForm() ?? [];
        return ToNt(status);
    }

    public override NtStatus SetSize(object file, long size) => ToNt(Ops.SetEndOfFile(default, size, ref ((Context)file).Info));

    public override NtStatus Delete(object file)
    {
        var context = (Context)file;
        return ToNt(context.Info.IsDirectory ? Ops.DeleteDirectory(default, ref context.Info) : Ops.DeleteFile(default, ref context.Info));
    }

    public override NtStatus Rename(object file, string newPath) => ToNt(Ops.MoveFile(default, default, false, ref ((Context)file).Info));

    public override NtStatus SetTimes(object file) => ToNt(Ops.SetFileTime(default, null, null, DateTime.UtcNow, ref ((Context)file).Info));

    public override unsafe AdapterVolumeInfo VolumeInfo()
    {
        var info = default(DokanFileInfo);
        char* label = stackalloc char[33];
        char* fsName = stackalloc char[33];
        uint serial = 0;
        Ops.GetVolumeInformation(new NativeMemory<char>((nint)label, 33), out var features, new NativeMemory<char>((nint)fsName, 33),
            out _, ref serial, ref info);
        Ops.GetDiskFreeSpace(out long free, out long total, out _, ref info);
        return new AdapterVolumeInfo(new string(label), total, free, serial, features.HasFlag(FileSystemFeatures.ReadOnlyVolume));
    }

    public override void Close(object file)
    {
        var context = (Context)file;
        Ops.Cleanup(default, ref context.Info);
        Ops.CloseFile(default, ref context.Info);
    }

    private static NtStatus ToNt(DokanStatus status) => (NtStatus)(uint)(long)status;

    /// <summary>What the driver keeps per open: its DOKAN_FILE_INFO and the name it passes back on each call.</summary>
    private sealed class Context
    {
        public DokanFileInfo Info;

        public string Path { get; init; } = "";
    }
}
