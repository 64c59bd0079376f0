namespace Qcow2Mount.Control.Protocol;

/// <summary>What <see cref="LineReader.ReadLineAsync"/> found.</summary>
public enum LineStatus
{
    /// <summary>A complete line (without its newline).</summary>
    Line,
    /// <summary>A line longer than the limit; it was read and thrown away, so the next read starts on the next line.</summary>
    TooLong,
    /// <summary>The other side closed the stream.</summary>
    EndOfStream,
}

/// <summary>One result of <see cref="LineReader.ReadLineAsync"/>; <see cref="Line"/> is set only for <see cref="LineStatus.Line"/>.</summary>
public readonly record struct LineReadResult(LineStatus Status, ReadOnlyMemory<byte> Line);

/// <summary>
/// Splits a byte stream into newline-terminated lines of at most <c>maxLineBytes</c>, never buffering more than
/// that however long a line the peer sends: the framing of the control protocol, for server and client alike.
/// </summary>
public sealed class LineReader
{
    private readonly Stream _stream;
    private readonly int _maxLineBytes;
    private byte[] _buffer;
    private int _start;
    private int _end;

    public LineReader(Stream stream, int maxLineBytes)
    {
        ArgumentNullException.ThrowIfNull(stream);
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(maxLineBytes);
        _stream = stream;
        _maxLineBytes = maxLineBytes;
        _buffer = new byte[Math.Min(maxLineBytes + 1, 16 * 1024)];
    }

    public async ValueTask<LineReadResult> ReadLineAsync(CancellationToken cancellationToken = default)
    {
        bool discarding = false;
        while (true)
        {
            int newline = Array.IndexOf(_buffer, (byte)'\n', _start, _end - _start);
            if (newline >= 0)
            {
                var line = _buffer.AsSpan(_start, newline - _start);
                _start = newline + 1;
                if (discarding || line.Length > _maxLineBytes)
                {
                    return new LineReadResult(LineStatus.TooLong, ReadOnlyMemory<byte>.Empty);
                }

                return new LineReadResult(LineStatus.Line, (line.EndsWith("\r"u8) ? line[..^1] : line).ToArray());
            }

            if (_end - _start > _maxLineBytes)
            {
                // Too long already: forget what is buffered and skip ahead to the end of the line.
                discarding = true;
                _start = _end = 0;
            }

            MakeRoom();
            int read = await _stream.ReadAsync(_buffer.AsMemory(_end), cancellationToken).ConfigureAwait(false);
            if (read == 0)
            {
                if (_end > _start && !discarding)
                {
                    // A last line without its newline still counts: the peer may write and then shut down its side.
                    var last = _buffer.AsSpan(_start, _end - _start).ToArray();
                    _start = _end = 0;
                    return new LineReadResult(LineStatus.Line, last);
                }

                _start = _end = 0;
                return new LineReadResult(discarding ? LineStatus.TooLong : LineStatus.EndOfStream, ReadOnlyMemory<byte>.Empty);
            }

            _end += read;
        }
    }

    private void MakeRoom()
    {
        if (_start > 0)
        {
            Buffer.BlockCopy(_buffer, _start, _buffer, 0, _end - _start);
            _end -= _start;
            _start = 0;
        }

        if (_end == _buffer.Length)
        {
            // Grows up to one byte past the limit, which is what it takes to see that a line is too long.
            Array.Resize(ref _buffer, Math.Min(_buffer.Length * 2, _maxLineBytes + 1));
        }
    }
}
