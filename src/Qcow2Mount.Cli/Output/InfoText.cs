using Qcow2Mount.Operations;

namespace Qcow2Mount.Cli.Output;

/// <summary><c>info</c> for people, laid out like <c>qemu-img info</c>.</summary>
internal static class InfoText
{
    public static void Write(IReadOnlyList<ImageDescription> images, TextWriter output)
    {
        for (int i = 0; i < images.Count; i++)
        {
            if (i > 0)
            {
                output.WriteLine();
            }

            WriteImage(images[i], output);
        }
    }

    private static void WriteImage(ImageDescription image, TextWriter output)
    {
        output.WriteLine($"image: {image.Filename}");
        output.WriteLine($"file format: {image.Format}");
        output.WriteLine($"virtual size: {HumanSize.Format(image.VirtualSize)} ({image.VirtualSize} bytes)");
        output.WriteLine($"disk size: {HumanSize.Format(image.ActualSize)}");
        if (image.Encrypted)
        {
            output.WriteLine("encrypted: yes");
        }
        if (image.ClusterSize is { } clusterSize)
        {
            output.WriteLine($"cluster_size: {clusterSize}");
        }

        if (image.DirtyFlag)
        {
            output.WriteLine("cleanly shut down: no");
        }

        if (image.BackingFilename is { } backing)
        {
            output.WriteLine(image.FullBackingFilename == backing
                ? $"backing file: {backing}"
                : $"backing file: {backing} (actual path: {image.FullBackingFilename})");
            if (image.BackingFormat is { } backingFormat)
            {
                output.WriteLine($"backing file format: {backingFormat}");
            }
        }

        if (image.Snapshots.Count > 0)
        {
            SnapshotListing.WriteText(image.Snapshots, output);
        }

        if (image.Qcow2 is { } q)
        {
            output.WriteLine("Format specific information:");
            output.WriteLine($"    compat: {q.Compat}");
            output.WriteLine($"    compression type: {q.CompressionType}");
            WriteOptional(output, "lazy refcounts", q.LazyRefcounts);
            output.WriteLine($"    refcount bits: {q.RefcountBits}");
            if (q.Encrypt is { } encrypt)
            {
                WriteEncrypt(output, encrypt);
            }
            if (q.DataFile is not null)
            {
                output.WriteLine($"    data file: {q.DataFile}");
            }

            WriteOptional(output, "data file raw", q.DataFileRaw);
            WriteOptional(output, "corrupt", q.Corrupt);
            WriteOptional(output, "extended l2", q.ExtendedL2);
        }
    }

    private static void WriteEncrypt(TextWriter output, EncryptDetails encrypt)
    {
        output.WriteLine("    encrypt:");
        if (encrypt.Luks is not { } luks)
        {
            output.WriteLine($"        format: {encrypt.Format}");
            return;
        }

        output.WriteLine($"        ivgen alg: {encrypt.IvgenAlg}");
        output.WriteLine($"        hash alg: {luks.HashSpec}");
        output.WriteLine($"        cipher alg: {encrypt.CipherAlg}");
        output.WriteLine($"        uuid: {luks.Uuid}");
        if (encrypt.IvgenHashAlg is { } ivgenHash)
        {
            output.WriteLine($"        ivgen hash alg: {ivgenHash}");
        }

        output.WriteLine($"        format: {encrypt.Format}");
        output.WriteLine($"        cipher mode: {encrypt.Mode}");
        output.WriteLine("        slots:");
        foreach (var slot in luks.Slots)
        {
            output.WriteLine($"            [{slot.Index}]:");
            output.WriteLine($"                active: {(slot.Active ? "true" : "false")}");
            if (slot.Active)
            {
                output.WriteLine($"                iters: {slot.Iterations}");
            }

            output.WriteLine($"                key offset: {(long)slot.KeyMaterialSector * 512}");
            if (slot.Active)
            {
                output.WriteLine($"                stripes: {slot.Stripes}");
            }
        }

        output.WriteLine($"        payload offset: {(long)luks.PayloadOffsetSector * 512}");
        output.WriteLine($"        master key iters: {luks.MasterKeyDigestIterations}");
    }

    private static void WriteOptional(TextWriter output, string name, bool? value)
    {
        if (value is { } v)
        {
            output.WriteLine($"    {name}: {(v ? "true" : "false")}");
        }
    }
}
