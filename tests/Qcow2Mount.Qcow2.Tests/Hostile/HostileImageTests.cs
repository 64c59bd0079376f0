using NUnit.Framework;
using Qcow2Mount.TestSupport;

namespace Qcow2Mount.Qcow2.Tests.Hostile;

/// <summary>
/// Each broken image of <c>make-hostile.sh</c> must be refused with the category its manifest names (or open and
/// fail to read the named range), quickly, without large allocations, and with a one-line message naming the file.
/// </summary>
[TestFixture]
[Parallelizable(ParallelScope.All)]
internal class HostileImageTests
{
    private static readonly TimeSpan TimeLimit = TimeSpan.FromSeconds(10);
    private const long AllocationLimit = 256L << 20;

    [TestCaseSource(typeof(Corpus), nameof(Corpus.HostileEntries))]
    public void Fails_with_the_expected_category(HostileEntry e)
    {
        bool opened = false;
        var outcome = Bounded(() =>
        {
            using var image = Qcow2Image.Open(e.Path);
            opened = true;
            if (e.FailsAtOpen)
            {
                return;
            }

            var buffer = new byte[e.ReadLength!.Value];
            image.ReadAt(e.ReadOffset!.Value, buffer);
        });

        Assert.That(outcome.Error, Is.Not.Null, $"{e.Name}: expected {e.ExpectedCategory} ({e.Description}), but it {(e.FailsAtOpen ? "opened" : "read")} fine");
        Assert.That(outcome.Error, Is.TypeOf<Qcow2Exception>(), $"{e.Name}: {outcome.Error}");
        var error = (Qcow2Exception)outcome.Error!;
        Assert.Multiple(() =>
        {
            if (e.FailsAtOpen)
            {
                Assert.That(error.Code, Is.EqualTo(Enum.Parse<Qcow2ErrorCode>(e.ExpectedCategory.ToString())), $"{e.Name}: {error.Message}");
            }

            Assert.That(error.Message, Does.Not.Contain('\n'), "one-line message");
            Assert.That(error.Message, Does.Contain(Path.GetFileName(e.Path)).Or.Contain(Path.GetDirectoryName(e.Path)!), "message names the file");
        });
        if (!e.FailsAtOpen)
        {
            Assert.That(opened, Is.True, $"{e.Name} must open and fail only on read: {error.Message}");
        }
    }

    /// <summary>A loop through two files is shown as the loop, not as one file being its own backing file.</summary>
    [Test]
    public void A_backing_loop_is_reported_as_the_chain_that_loops()
    {
        var entry = Corpus.GetHostile("backing-loop-a");
        string a = Path.GetFullPath(entry.Path), b = Path.Combine(Path.GetDirectoryName(a)!, "b.qcow2");

        var error = Assert.Throws<Qcow2Exception>(() => Qcow2Image.Open(entry.Path).Dispose());

        Assert.Multiple(() =>
        {
            Assert.That(error!.Code, Is.EqualTo(Qcow2ErrorCode.BackingChain));
            Assert.That(error.Message, Is.EqualTo($"backing chain loops: {a} -> {b} -> {a}"));
        });
    }

    /// <summary>The outcome of an open (and read) run on another thread with a time and allocation limit.</summary>
    internal sealed record Outcome(Exception? Error, long AllocatedBytes);

    internal static Outcome Bounded(Action action)
    {
        long allocated = 0;
        var task = Task.Run(() =>
        {
            long before = GC.GetAllocatedBytesForCurrentThread();
            try
            {
                action();
                return (Exception?)null;
            }
#pragma warning disable CA1031 // Whatever the hostile image makes the engine throw is the outcome, which the caller classifies.
            catch (Exception ex)
            {
                return ex;
            }
#pragma warning restore CA1031
            finally
            {
                allocated = GC.GetAllocatedBytesForCurrentThread() - before;
            }
        });
        Assert.That(task.Wait(TimeLimit), Is.True, $"did not finish within {TimeLimit.TotalSeconds} s");
        Assert.That(allocated, Is.LessThan(AllocationLimit), "allocated bytes");
        return new Outcome(task.Result, allocated);
    }
}
