using Qcow2Mount.Fuse.Native;

namespace Qcow2Mount.Fuse;

/// <summary>
/// One FUSE thread's read reply area: an in-memory file mapped into our memory. A reply read into it goes back as
/// a descriptor range, which libfuse splices into /dev/fuse by page reference, so the kernel copies the bytes once.
/// A malloc'ed reply would be copied twice: libfuse writes memory into its splice pipe before splicing that pipe.
/// </summary>
internal sealed unsafe class ReplyBuffer : IDisposable
{
    private readonly int _fd;
    private byte* _memory;

    private ReplyBuffer(FuseMount owner, int fd, byte* memory, int size)
    {
        Owner = owner;
        _fd = fd;
        _memory = memory;
        Size = size;
    }

    /// <summary>The mount whose thread this buffer serves; a thread keeps one buffer per mount it has served.</summary>
    public FuseMount Owner { get; }

    public int Size { get; }

    /// <summary>The in-memory file behind <see cref="Span"/>: byte i of the span is at offset i.</summary>
    public int Fd => _fd;

    public Span<byte> Span => new(_memory, Size);

    /// <summary>A mapped in-memory file of <paramref name="size"/> bytes, or null when the system refuses one.</summary>
    public static ReplyBuffer? TryCreate(FuseMount owner, int size)
    {
        int fd = LibC.MemfdCreate("qcow2mount-reply", LibC.MemfdCloseOnExec);
        if (fd < 0)
        {
            return null;
        }

        if (LibC.FTruncate(fd, size) == 0)
        {
            void* memory = LibC.MMap(null, (nuint)size, LibC.ProtRead | LibC.ProtWrite, LibC.MapShared, fd, 0);
            if (memory != LibC.MapFailed)
            {
                return new ReplyBuffer(owner, fd, (byte*)memory, size);
            }
        }

        LibC.Close(fd);
        return null;
    }

    public void Dispose()
    {
        if (_memory is not null)
        {
            LibC.MUnmap(_memory, (nuint)Size);
            LibC.Close(_fd);
            _memory = null;
        }
    }
}
