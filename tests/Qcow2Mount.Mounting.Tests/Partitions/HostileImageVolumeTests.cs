using Qcow2Mount.Qcow2;
using Qcow2Mount.TestSupport;

namespace Qcow2Mount.Mounting.Tests.Partitions;

/// <summary>Reading the partition table is part of building every volume: no hostile image that opens may make it fail.</summary>
internal sealed class HostileImageVolumeTests
{
    [TestCaseSource(typeof(Corpus), nameof(Corpus.HostileEntries))]
    public void A_hostile_image_that_opens_builds_a_volume(HostileEntry e)
    {
        Qcow2Image image;
        try
        {
#pragma warning disable CA2000 // Wrong: the volume built below owns the image and disposes it.
            image = Qcow2Image.Open(e.Path, new Qcow2OpenOptions());
#pragma warning restore CA2000
        }
        catch (Qcow2Exception)
        {
            Assert.Pass("refused at open, before any volume is built");
            return;
        }

        using var volume = new Volume(image, new VolumeOptions { ReadOnly = true });

        Assert.That(volume.PartitionTables.ContainsKey("/disk.raw"), Is.True);
        Assert.That(volume.PartitionNotes, Is.Not.Empty);
    }
}
