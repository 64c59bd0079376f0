using System.Diagnostics.CodeAnalysis;

namespace Qcow2Mount.Qcow2;

/// <summary>What went wrong, so each front end can translate it once (exit code, errno, NTSTATUS).</summary>
public enum Qcow2ErrorCode
{
    /// <summary>The file is not a qcow2 image (bad magic, too short).</summary>
    NotQcow2,
    /// <summary>A header or table field is out of range or inconsistent.</summary>
    InvalidHeader,
    /// <summary>The image uses a feature this engine does not implement (unknown incompatible bit, a cipher other than AES).</summary>
    Unsupported,
    /// <summary>Metadata points somewhere impossible (past EOF, misaligned, overlapping).</summary>
    Corrupt,
    /// <summary>A backing file or external data file is missing or cannot be opened.</summary>
    MissingFile,
    /// <summary>Backing chain is too deep or loops.</summary>
    BackingChain,
    /// <summary>A write was attempted on a read-only disk.</summary>
    ReadOnly,
    /// <summary>The image is locked by another writer.</summary>
    Locked,
    /// <summary>A named snapshot does not exist.</summary>
    SnapshotNotFound,
    /// <summary>An argument is out of range (offset past the end, bad size).</summary>
    InvalidArgument,
    /// <summary>The host file failed (I/O error, disk full).</summary>
    Io,
    /// <summary>An encrypted image needs a password that was not given, or the one given opens no key slot.</summary>
    Password,
}

/// <summary>The one error type of the engine: a code for machines, a one-line message for people.</summary>
[SuppressMessage("Design", "CA1032:Implement standard exception constructors", Justification = "Every instance carries its error code, which callers branch on; a constructor without one would make an error nobody can classify.")]
public sealed class Qcow2Exception : Exception
{
    public Qcow2Exception(Qcow2ErrorCode code, string message, Exception? inner = null)
        : base(message, inner)
    {
        Code = code;
    }

    public Qcow2ErrorCode Code { get; }
}
