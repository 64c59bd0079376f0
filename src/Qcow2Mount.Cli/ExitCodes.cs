using Qcow2Mount.Operations;
using Qcow2Mount.Qcow2;

namespace Qcow2Mount.Cli;

/// <summary>
/// The one table that turns errors into process exit codes. Each engine condition gets its own exit code so
/// scripts can tell "not a qcow2 image" from "snapshot not found" without parsing messages.
/// </summary>
internal static class ExitCodes
{
    public const int Success = 0;
    public const int Usage = 1;
    public const int Internal = 70; // EX_SOFTWARE: a bug in qcow2mount, not in the image.

    /// <summary>Mount-service failures (mount point missing or busy, service unreachable, ...).</summary>
    public const int Service = 13;

    /// <summary>No driver can mount here (Windows: neither WinFsp nor Dokany installed; Linux: no FUSE).</summary>
    public const int NoFileSystemDriver = 15;

    /// <summary><c>hash --verify</c>: a recorded digest does not match the guest bytes.</summary>
    public const int DigestMismatch = 16;

    /// <summary>Stopped by Ctrl+C (128 + SIGINT, as shells report it).</summary>
    public const int Cancelled = 130;

    private static readonly (OperationErrorCode Code, int Exit, string Meaning)[] Table =
    [
        (OperationErrorCode.Io, 2, "host file I/O error (read, write, permission, disk full)"),
        (OperationErrorCode.NotQcow2, 3, "not a qcow2 image"),
        (OperationErrorCode.InvalidHeader, 4, "invalid qcow2 header"),
        (OperationErrorCode.Unsupported, 5, "unsupported feature (unknown feature bits, ciphers other than AES, options not supported yet)"),
        (OperationErrorCode.Corrupt, 6, "corrupt image metadata"),
        (OperationErrorCode.MissingFile, 7, "file not found (image, backing file, data file)"),
        (OperationErrorCode.BackingChain, 8, "backing chain loops or is too deep"),
        (OperationErrorCode.ReadOnly, 9, "write to a read-only image"),
        (OperationErrorCode.Locked, 10, "image is locked by another process"),
        (OperationErrorCode.SnapshotNotFound, 11, "snapshot not found"),
        (OperationErrorCode.OutOfRange, 12, "invalid argument (offset or size out of range)"),
        (OperationErrorCode.Password, 14, "encrypted image: password missing or wrong"),
    ];

    public static int For(OperationErrorCode code)
    {
        switch (code)
        {
            case OperationErrorCode.InvalidOptions or OperationErrorCode.InvalidDestination:
                return Usage;
            case OperationErrorCode.Service:
                return Service;
        }

        foreach (var row in Table)
        {
            if (row.Code == code)
            {
                return row.Exit;
            }
        }

        return Internal;
    }

    public static int For(Qcow2ErrorCode code) => For(OperationException.CodeFor(code));

    /// <summary>
    /// A service error code (<see cref="Control.Protocol.ErrorCodes"/>): those that name an engine condition keep
    /// that condition's exit code, contradicting mount options are usage errors, the rest are service errors.
    /// </summary>
    public static int ForService(string code) =>
        code == Control.Protocol.ErrorCodes.FileSystemUnavailable ? NoFileSystemDriver : For(OperationException.CodeForService(code));

    /// <summary>The table as help text, so the documentation cannot drift from the code.</summary>
    public static string Describe()
    {
        var lines = new List<string>
        {
            "Exit codes:",
            $"  {Success,3}  success",
            $"  {Usage,3}  command-line usage error",
        };
        lines.AddRange(Table.Select(row => $"  {row.Exit,3}  {row.Meaning}"));
        lines.Add($"  {Service,3}  mount service error (mount point missing or busy, service unreachable or not running, not mounted)");
        lines.Add($"  {NoFileSystemDriver,3}  no file system driver to mount with (Windows: install WinFsp or Dokany 2.x; Linux: FUSE 3)");
        lines.Add($"  {DigestMismatch,3}  hash --verify: a recorded digest does not match the guest bytes");
        lines.Add($"  {Internal,3}  internal error (a bug: run with --verbose and report it)");
        lines.Add($"  {Cancelled,3}  interrupted (Ctrl+C); a convert removes the file it was writing");
        lines.Add("compare exits as qemu-img compare does: 0 identical, 1 different, 2 an image did not open, 3 error reading.");
        return string.Join(Environment.NewLine, lines);
    }
}
