using Qcow2Mount.Qcow2;

namespace Qcow2Mount.Cli;

/// <summary>
/// The one table that turns errors into process exit codes. Each engine error code gets its own exit code so
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

    private static readonly (Qcow2ErrorCode Code, int Exit, string Meaning)[] Table =
    [
        (Qcow2ErrorCode.Io, 2, "host file I/O error (read, write, permission, disk full)"),
        (Qcow2ErrorCode.NotQcow2, 3, "not a qcow2 image"),
        (Qcow2ErrorCode.InvalidHeader, 4, "invalid qcow2 header"),
        (Qcow2ErrorCode.Unsupported, 5, "unsupported feature (unknown feature bits, ciphers other than AES, options not supported yet)"),
        (Qcow2ErrorCode.Corrupt, 6, "corrupt image metadata"),
        (Qcow2ErrorCode.MissingFile, 7, "file not found (image, backing file, data file)"),
        (Qcow2ErrorCode.BackingChain, 8, "backing chain loops or is too deep"),
        (Qcow2ErrorCode.ReadOnly, 9, "write to a read-only image"),
        (Qcow2ErrorCode.Locked, 10, "image is locked by another process"),
        (Qcow2ErrorCode.SnapshotNotFound, 11, "snapshot not found"),
        (Qcow2ErrorCode.InvalidArgument, 12, "invalid argument (offset or size out of range)"),
        (Qcow2ErrorCode.Password, 14, "encrypted image: password missing or wrong"),
    ];

    public static int For(Qcow2ErrorCode code)
    {
        foreach (var row in Table)
        {
            if (row.Code == code)
            {
                return row.Exit;
            }
        }

        return Internal;
    }

    /// <summary>Service error codes that name an engine condition keep that condition's exit code.</summary>
    public static int ForService(string code) => code switch
    {
        "not_qcow2" => For(Qcow2ErrorCode.NotQcow2),
        "missing_file" => For(Qcow2ErrorCode.MissingFile),
        "locked" => For(Qcow2ErrorCode.Locked),
        "snapshot_not_found" => For(Qcow2ErrorCode.SnapshotNotFound),
        "invalid_image" => For(Qcow2ErrorCode.Corrupt),
        "unsupported" => For(Qcow2ErrorCode.Unsupported),
        "backing_chain" => For(Qcow2ErrorCode.BackingChain),
        "read_only" => For(Qcow2ErrorCode.ReadOnly),
        "password" => For(Qcow2ErrorCode.Password),
        "io_error" or "access_denied" => For(Qcow2ErrorCode.Io),
        // Contradicting mount options, a directory given as the image: what the CLI calls usage errors.
        "invalid_argument" => Usage,
        Control.Protocol.ErrorCodes.FileSystemUnavailable => NoFileSystemDriver,
        _ => Service,
    };

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
        lines.Add($"  {Internal,3}  internal error (a bug: run with --verbose and report it)");
        return string.Join(Environment.NewLine, lines);
    }
}
