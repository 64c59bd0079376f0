using System.Security.Cryptography;
using Qcow2Mount.Control;
using Qcow2Mount.Control.Protocol;
using Qcow2Mount.Mounting;
using Qcow2Mount.Operations;
using Qcow2Mount.Service.Tests.Support;
using Qcow2Mount.TestSupport;

namespace Qcow2Mount.Service.Tests;

/// <summary>
/// Proof of a read-only examination: every corpus image is mounted read-only and through an overlay (real FUSE),
/// all of <c>disk.raw</c>, every snapshot file and every partition file is read (and the overlay written), then
/// <c>report</c> and <c>hash</c> run; afterwards each file of the chain has the same sha256 and modification time.
/// </summary>
[TestFixture]
[NonParallelizable]
internal sealed class ReadOnlyExaminationTests
{
    private static (string Sha256, DateTime Modified) Fingerprint(string path)
    {
        using var stream = File.OpenRead(path);
        return (Convert.ToHexStringLower(SHA256.HashData(stream)), File.GetLastWriteTimeUtc(path));
    }

    /// <summary>Reads every file under the mount to its end; returns the bytes read.</summary>
    private static long ReadEverything(string mountDir)
    {
        long total = 0;
        byte[] buffer = new byte[1 << 20];
        foreach (string file in Directory.EnumerateFiles(mountDir, "*", SearchOption.AllDirectories))
        {
            using var stream = new FileStream(file, FileMode.Open, FileAccess.Read, FileShare.ReadWrite, 1, FileOptions.SequentialScan);
            int n;
            while ((n = stream.Read(buffer)) > 0)
            {
                total += n;
            }
        }

        return total;
    }

    [Test]
    public async Task Mounting_reading_reporting_and_hashing_every_corpus_image_changes_no_file_of_its_chain()
    {
        Requirements.FuseAndQemu();
        var entries = Corpus.LoadEntries();
        string[] images = [.. entries.Select(e => e.ImagePath).Distinct()];
        var skipped = new List<string>();
        var examined = new List<string>();

        await using var service = await ServiceSession.StartAsync();
        using var client = await service.ConnectAsync();
        foreach (string image in images)
        {
            var chain = await ImageOperations.InspectAsync(new InspectOptions { Image = image, BackingChain = true, ForceShare = true });
            if (chain.Any(d => d.Encrypted))
            {
                skipped.Add($"{Path.GetFileName(image)} (encrypted, no password)");
                continue;
            }

            // The files of the chain: each image, its backing files, and external data files.
            var files = new List<string> { Path.GetFullPath(image) };
            files.AddRange(chain.Select(d => d.FullBackingFilename).OfType<string>().Select(Path.GetFullPath));
            for (int i = 0; i < chain.Count && i < files.Count; i++)
            {
                if (chain[i].Qcow2?.DataFile is { } dataFile)
                {
                    files.Add(Path.GetFullPath(dataFile, Path.GetDirectoryName(files[i])!));
                }
            }

            files = [.. files.Where(File.Exists).Distinct()];
            var before = files.ToDictionary(f => f, Fingerprint);

            foreach (string mode in new[] { ControlMountModes.ReadOnly, ControlMountModes.Overlay })
            {
                string mountDir = service.NewMountDir();
                await client.MountAsync(new ControlMountRequest { Image = image, MountPoint = mountDir, Mode = mode });
                try
                {
                    ReadEverything(mountDir);
                    string disk = Path.Combine(mountDir, Volume.DiskFileName);
                    if (mode == ControlMountModes.Overlay && new FileInfo(disk).Length >= 4096)
                    {
                        // Writes through an overlay land in the overlay, never in the evidence.
                        await using var stream = new FileStream(disk, FileMode.Open, FileAccess.Write);
                        await stream.WriteAsync(new byte[4096].Select(_ => (byte)0xA5).ToArray());
                        await stream.FlushAsync();
                    }
                }
                finally
                {
                    await client.UnmountAsync(mountDir);
                }
            }

            await ImageOperations.ReportAsync(new ReportOptions { Image = image, Algorithms = [DigestAlgorithm.Sha256] });
            await ImageOperations.HashAsync(new HashOptions { Image = image, Algorithms = [DigestAlgorithm.Md5, DigestAlgorithm.Sha256] });

            var after = files.ToDictionary(f => f, Fingerprint);
            Assert.That(after, Is.EqualTo(before), $"{image}: sha256 and mtime of every file of the chain");
            examined.Add(Path.GetFileName(image));
        }

        TestContext.Out.WriteLine($"examined {examined.Count} images: {string.Join(", ", examined)}");
        if (skipped.Count > 0)
        {
            TestContext.Out.WriteLine($"skipped: {string.Join(", ", skipped)}");
        }

        Assert.That(examined, Is.Not.Empty);
    }
}
