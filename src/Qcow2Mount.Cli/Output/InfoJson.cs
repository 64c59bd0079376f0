using System.Text.Json;
using Qcow2Mount.Operations;

namespace Qcow2Mount.Cli.Output;

/// <summary>
/// <c>info --json</c>: the field names and nesting of <c>qemu-img info --output=json</c>, keys in the order
/// qemu-img 7.2 prints them, so scripts written against qemu-img read it unchanged.
/// </summary>
internal static class InfoJson
{
    public static void Write(IReadOnlyList<ImageDescription> images, bool asArray, TextWriter output) =>
        JsonOutput.Write(output, json =>
        {
            if (!asArray)
            {
                WriteImage(json, images[0]);
                return;
            }

            json.WriteStartArray();
            foreach (var image in images)
            {
                WriteImage(json, image);
            }

            json.WriteEndArray();
        });

    internal static void WriteImage(Utf8JsonWriter json, ImageDescription image)
    {
        json.WriteStartObject();
        if (image.BackingFormat is not null)
        {
            json.WriteString("backing-filename-format", image.BackingFormat);
        }

        if (image.Snapshots.Count > 0)
        {
            json.WriteStartArray("snapshots");
            foreach (var snapshot in image.Snapshots)
            {
                SnapshotListing.WriteJson(json, snapshot);
            }

            json.WriteEndArray();
        }

        json.WriteNumber("virtual-size", image.VirtualSize);
        json.WriteString("filename", image.Filename);
        if (image.ClusterSize is { } clusterSize)
        {
            json.WriteNumber("cluster-size", clusterSize);
        }

        json.WriteString("format", image.Format);
        json.WriteNumber("actual-size", image.ActualSize);
        if (image.Qcow2 is { } q)
        {
            json.WriteStartObject("format-specific");
            json.WriteString("type", "qcow2");
            json.WriteStartObject("data");
            json.WriteString("compat", q.Compat);
            json.WriteString("compression-type", q.CompressionType);
            WriteOptional(json, "lazy-refcounts", q.LazyRefcounts);
            json.WriteNumber("refcount-bits", q.RefcountBits);
            if (q.Encrypt is { } encrypt)
            {
                WriteEncrypt(json, encrypt);
            }
            if (q.DataFile is not null)
            {
                json.WriteString("data-file", q.DataFile);
            }

            WriteOptional(json, "data-file-raw", q.DataFileRaw);
            WriteOptional(json, "corrupt", q.Corrupt);
            WriteOptional(json, "extended-l2", q.ExtendedL2);
            json.WriteEndObject();
            json.WriteEndObject();
        }

        if (image.BackingFilename is not null)
        {
            json.WriteString("full-backing-filename", image.FullBackingFilename);
            WriteEncrypted(json, image);
            json.WriteString("backing-filename", image.BackingFilename);
        }
        else
        {
            WriteEncrypted(json, image);
        }

        json.WriteBoolean("dirty-flag", image.DirtyFlag);
        json.WriteEndObject();
    }

    private static void WriteEncrypted(Utf8JsonWriter json, ImageDescription image)
    {
        if (image.Encrypted)
        {
            json.WriteBoolean("encrypted", true);
        }
    }

    private static void WriteEncrypt(Utf8JsonWriter json, EncryptDetails encrypt)
    {
        json.WriteStartObject("encrypt");
        if (encrypt.Luks is { } luks)
        {
            json.WriteString("ivgen-alg", encrypt.IvgenAlg);
            json.WriteString("hash-alg", luks.HashSpec);
            json.WriteString("cipher-alg", encrypt.CipherAlg);
            json.WriteString("uuid", luks.Uuid);
            if (encrypt.IvgenHashAlg is { } ivgenHash)
            {
                json.WriteString("ivgen-hash-alg", ivgenHash);
            }

            json.WriteString("format", encrypt.Format);
            json.WriteString("cipher-mode", encrypt.Mode);
            json.WriteStartArray("slots");
            foreach (var slot in luks.Slots)
            {
                json.WriteStartObject();
                json.WriteBoolean("active", slot.Active);
                if (slot.Active)
                {
                    json.WriteNumber("iters", slot.Iterations);
                }

                json.WriteNumber("key-offset", (long)slot.KeyMaterialSector * 512);
                if (slot.Active)
                {
                    json.WriteNumber("stripes", slot.Stripes);
                }

                json.WriteEndObject();
            }

            json.WriteEndArray();
            json.WriteNumber("payload-offset", (long)luks.PayloadOffsetSector * 512);
            json.WriteNumber("master-key-iters", luks.MasterKeyDigestIterations);
        }
        else
        {
            json.WriteString("format", encrypt.Format);
        }

        json.WriteEndObject();
    }

    private static void WriteOptional(Utf8JsonWriter json, string name, bool? value)
    {
        if (value is { } v)
        {
            json.WriteBoolean(name, v);
        }
    }
}
