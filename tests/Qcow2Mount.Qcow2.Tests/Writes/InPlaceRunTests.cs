using NUnit.Framework;
using Qcow2Mount.TestSupport;
using Qcow2Mount.Qcow2.Create;
using Qcow2Mount.Qcow2.Storage;

namespace Qcow2Mount.Qcow2.Tests.Writes;

/// <summary>
/// Overwrites of clusters that are ours alone and lie back to back on the host go out as one host write (QEMU
/// issues one request; one per cluster cost a 1 MiB overwrite 16 writes), and runs stop exactly where in-place
/// writing stops being allowed.
/// </summary>
[TestFixture]
internal class InPlaceRunTests
{
    private static byte[] Pattern(int length, int seed)
    {
        var data = new byte[length];
        new Random(seed).NextBytes(data);
        return data;
    }

    /// <summary>A 4 MiB image whose first 2 MiB were written in one go (so its clusters are contiguous), in memory.</summary>
    private static FaultInjectingFile Allocated(bool extendedL2, out byte[] guest)
    {
        using var dir = new TempDir("inplace");
        string path = dir.Combine("i.qcow2");
        ImageCreator.Create(path, new CreateOptions { Size = 4L << 20, ClusterSize = 65536, ExtendedL2 = extendedL2 });
        guest = new byte[4 << 20];
        Pattern(2 << 20, 1).CopyTo(guest, 0);
        using (var image = Qcow2Image.Open(path, new Qcow2OpenOptions { Writable = true }))
        {
            image.WriteAt(0, guest.AsSpan(0, 2 << 20));
        }

        return new FaultInjectingFile("i.qcow2", File.ReadAllBytes(path));
    }

    [TestCase(false)]
    [TestCase(true)]
    public void A_1_MiB_overwrite_of_contiguous_clusters_is_one_host_write(bool extendedL2)
    {
#pragma warning disable CA2000 // Wrong: the image opens the file through HostFileOpener and disposes it.
        var file = Allocated(extendedL2, out var guest);
        using var image = Qcow2Image.Open("i.qcow2", new Qcow2OpenOptions { Writable = true, HostFileOpener = (_, _) => file });
#pragma warning restore CA2000
        var data = Pattern(1 << 20, 2);
        int before = file.WriteCount;
        image.WriteAt(65536, data);
        Assert.That(file.WriteCount - before, Is.EqualTo(1), "host writes for 16 contiguous clusters");
        data.CopyTo(guest, 65536);

        var back = new byte[guest.Length];
        image.ReadAt(0, back);
        Assert.That(back.AsSpan().SequenceEqual(guest), Is.True);
    }

    [Test]
    public void A_run_stops_at_an_unallocated_cluster_and_the_rest_is_still_written()
    {
#pragma warning disable CA2000 // Wrong: the image opens the file through HostFileOpener and disposes it.
        var file = Allocated(extendedL2: false, out var guest);
        using var image = Qcow2Image.Open("i.qcow2", new Qcow2OpenOptions { Writable = true, HostFileOpener = (_, _) => file });
#pragma warning restore CA2000
        // 1.5 MiB from 1 MiB: 16 allocated clusters in place, then 8 that must be allocated.
        var data = Pattern(3 << 19, 3);
        image.WriteAt(1 << 20, data);
        data.CopyTo(guest, 1 << 20);
        image.Flush();

        var back = new byte[guest.Length];
        image.ReadAt(0, back);
        Assert.That(back.AsSpan().SequenceEqual(guest), Is.True);
    }

    [Test]
    public void A_shared_cluster_in_the_middle_is_copied_on_write_not_overwritten()
    {
        using var dir = new TempDir("inplace");
        string path = dir.Combine("s.qcow2");
        ImageCreator.Create(path, new CreateOptions { Size = 4L << 20, ClusterSize = 65536 });
        var original = Pattern(1 << 20, 4);
        using (var image = Qcow2Image.Open(path, new Qcow2OpenOptions { Writable = true }))
        {
            image.WriteAt(0, original);
            image.CreateSnapshot("keep");
            // Cluster 0 and 2..15 become ours again; cluster 1 stays shared with the snapshot.
            image.WriteAt(0, original.AsSpan(0, 65536));
            image.WriteAt(2 * 65536, original.AsSpan(2 * 65536));
        }

        var update = Pattern(1 << 20, 5);
        using (var image = Qcow2Image.Open(path, new Qcow2OpenOptions { Writable = true }))
        {
            image.WriteAt(0, update);
        }

        using var active = Qcow2Image.Open(path);
        using var snapshot = Qcow2Image.Open(path, new Qcow2OpenOptions { Snapshot = "keep" });
        var back = new byte[1 << 20];
        active.ReadAt(0, back);
        Assert.That(back.AsSpan().SequenceEqual(update), Is.True, "the active layer has the update");
        snapshot.ReadAt(0, back);
        Assert.That(back.AsSpan().SequenceEqual(original), Is.True, "the snapshot keeps its data");
    }
}
