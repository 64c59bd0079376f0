using Qcow2Mount.Qcow2;
using Qcow2Mount.Qcow2.Create;

namespace Qcow2Mount.Cli.Operations;

/// <summary>
/// Copies a guest view into a new qcow2 image: created empty, then only the clusters holding non-zero data are
/// written (zeros stay unallocated), through the engine's write path with lazy refcounts. Compressed, each
/// non-zero cluster is stored on its own with <see cref="Qcow2Image.WriteCompressed"/>.
/// </summary>
internal static class Qcow2Converter
{
    private const int ChunkSize = 4 << 20;

    public static void Run(IVirtualDisk source, string destination, CreateOptions create, bool compress, Action<long>? progress)
    {
        ImageCreator.Create(destination, create with { Size = source.Length, Overwrite = true });
        using var target = Qcow2Image.Open(destination, new Qcow2OpenOptions { Writable = true, LazyRefcounts = true });
        int cluster = target.ClusterSize;
        var buffer = new byte[ChunkSize];
        for (long offset = 0; offset < source.Length; offset += ChunkSize)
        {
            int n = source.ReadAt(offset, buffer);
            // The target is rounded up to 512 bytes: its last cluster is padded with zeros, not stale buffer bytes.
            buffer.AsSpan(n).Clear();
            for (int start = 0; start < n;)
            {
                // Runs of non-zero clusters become one write.
                int end = start;
                while (end < n && buffer.AsSpan(end, Math.Min(cluster, n - end)).IndexOfAnyExcept((byte)0) >= 0)
                {
                    end += Math.Min(cluster, n - end);
                }

                if (end > start && compress)
                {
                    for (int c = start; c < end; c += cluster)
                    {
                        long at = offset + c;
                        target.WriteCompressed(at, buffer.AsSpan(c, (int)Math.Min(cluster, target.Length - at)));
                    }

                    start = end;
                }
                else if (end > start)
                {
                    target.WriteAt(offset + start, buffer.AsSpan(start, end - start));
                    start = end;
                }
                else
                {
                    start += Math.Min(cluster, n - start);
                }
            }

            progress?.Invoke(offset + n);
        }

        target.Flush();
    }
}
