using System.Text;
using Qcow2Mount.Control.Protocol;

namespace Qcow2Mount.Service.Tests;

/// <summary>The protocol's framing: lines up to a limit, longer ones skipped whole, however the bytes arrive.</summary>
internal sealed class LineReaderTests
{
    /// <summary>A stream that hands out at most <c>chunk</c> bytes per read, like a socket under load.</summary>
    private sealed class TrickleStream(byte[] data, int chunk) : MemoryStream(data)
    {
        public override ValueTask<int> ReadAsync(Memory<byte> buffer, CancellationToken cancellationToken = default) =>
            base.ReadAsync(buffer[..Math.Min(chunk, buffer.Length)], cancellationToken);
    }

    [TestCase(1)]
    [TestCase(7)]
    [TestCase(4096)]
    public async Task Lines_over_the_limit_are_reported_and_skipped_and_the_next_line_is_intact(int chunk)
    {
        string input = "first\r\n" + new string('x', 100) + "\nsecond\n\nlast-without-newline";
        var reader = new LineReader(new TrickleStream(Encoding.UTF8.GetBytes(input), chunk), maxLineBytes: 50);

        var results = new List<string>();
        while (true)
        {
            var result = await reader.ReadLineAsync();
            if (result.Status == LineStatus.EndOfStream)
            {
                break;
            }

            results.Add(result.Status == LineStatus.TooLong ? "<too long>" : Encoding.UTF8.GetString(result.Line.Span));
        }

        Assert.That(results, Is.EqualTo(new[] { "first", "<too long>", "second", "", "last-without-newline" }));
    }

    [Test]
    public async Task A_line_of_exactly_the_limit_is_accepted()
    {
        var reader = new LineReader(new MemoryStream(Encoding.UTF8.GetBytes(new string('y', 50) + "\n" + new string('z', 51) + "\n")), maxLineBytes: 50);

        var exact = await reader.ReadLineAsync();
        var over = await reader.ReadLineAsync();

        Assert.That(exact.Status, Is.EqualTo(LineStatus.Line));
        Assert.That(exact.Line, Has.Length.EqualTo(50));
        Assert.That(over.Status, Is.EqualTo(LineStatus.TooLong));
    }
}
