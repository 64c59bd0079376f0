using System.Buffers.Binary;
using System.Security.Cryptography;
using System.Text;

namespace Qcow2Mount.Qcow2.Crypto;

/// <summary>One of the eight LUKS1 key slots.</summary>
public sealed record LuksKeySlot(int Index, bool Active, uint Iterations, ReadOnlyMemory<byte> Salt, uint KeyMaterialSector, uint Stripes)
{
    public const uint ActiveMagic = 0x00AC71F3;
    public const uint InactiveMagic = 0x0000DEAD;
}

/// <summary>
/// The LUKS1 header QEMU keeps inside a qcow2 image (crypt_method 2, located by header extension 0x0537BE77),
/// as the LUKS1 on-disk format specification lays it out: big-endian, 592 bytes, eight key slots.
/// </summary>
public sealed record LuksHeader
{
    public const int Size = 592;
    private const int SlotCount = 8;
    private static ReadOnlySpan<byte> Magic => [(byte)'L', (byte)'U', (byte)'K', (byte)'S', 0xBA, 0xBE];

    public required string CipherName { get; init; }
    public required string CipherMode { get; init; }
    public required string HashSpec { get; init; }
    public required uint PayloadOffsetSector { get; init; }
    public required uint KeyBytes { get; init; }
    public required ReadOnlyMemory<byte> MasterKeyDigest { get; init; }
    public required ReadOnlyMemory<byte> MasterKeyDigestSalt { get; init; }
    public required uint MasterKeyDigestIterations { get; init; }
    public required string Uuid { get; init; }
    public required IReadOnlyList<LuksKeySlot> Slots { get; init; }

    /// <summary>Parses and validates the header at the start of <paramref name="data"/>.</summary>
    /// <param name="data">The LUKS area's first bytes (at least <see cref="Size"/>).</param>
    /// <param name="regionLength">Bytes the image reserves for the LUKS data: every key slot's material must lie inside.</param>
    public static LuksHeader Parse(ReadOnlySpan<byte> data, long regionLength)
    {
        if (data.Length < Size || !data[..6].SequenceEqual(Magic))
        {
            throw Invalid("no LUKS header where the image's LUKS header extension points");
        }

        ushort version = BinaryPrimitives.ReadUInt16BigEndian(data[6..]);
        if (version != 1)
        {
            throw new Qcow2Exception(Qcow2ErrorCode.Unsupported, $"LUKS version {version}: only LUKS1 is supported (QEMU writes LUKS1)");
        }

        var slots = new LuksKeySlot[SlotCount];
        for (int i = 0; i < SlotCount; i++)
        {
            slots[i] = ParseSlot(data.Slice(208 + (i * 48), 48), i);
        }

        var header = new LuksHeader
        {
            CipherName = Text(data.Slice(8, 32)),
            CipherMode = Text(data.Slice(40, 32)),
            HashSpec = Text(data.Slice(72, 32)),
            PayloadOffsetSector = BinaryPrimitives.ReadUInt32BigEndian(data[104..]),
            KeyBytes = BinaryPrimitives.ReadUInt32BigEndian(data[108..]),
            MasterKeyDigest = data.Slice(112, 20).ToArray(),
            MasterKeyDigestSalt = data.Slice(132, 32).ToArray(),
            MasterKeyDigestIterations = BinaryPrimitives.ReadUInt32BigEndian(data[164..]),
            Uuid = Text(data.Slice(168, 40)),
            Slots = slots,
        };
        header.Validate(regionLength);
        return header;
    }

    private static LuksKeySlot ParseSlot(ReadOnlySpan<byte> slot, int index)
    {
        uint active = BinaryPrimitives.ReadUInt32BigEndian(slot);
        if (active is not (LuksKeySlot.ActiveMagic or LuksKeySlot.InactiveMagic))
        {
            throw Invalid($"key slot {index} has an invalid state 0x{active:x8}");
        }

        return new LuksKeySlot(index, active == LuksKeySlot.ActiveMagic, BinaryPrimitives.ReadUInt32BigEndian(slot[4..]),
            slot.Slice(8, 32).ToArray(), BinaryPrimitives.ReadUInt32BigEndian(slot[40..]), BinaryPrimitives.ReadUInt32BigEndian(slot[44..]));
    }

    /// <summary>
    /// Most PBKDF2 work (iterations times output blocks, over the slots tried and the digest checks) one unlock may
    /// do: about a minute at worst. QEMU's default iter-time of 2 s gives a few million iterations per slot on current
    /// machines, and the right password usually opens the first slot; a hostile header asking for billions would
    /// otherwise keep an open busy for hours.
    /// </summary>
    public const long MaxUnlockWork = 1L << 28;

    /// <summary>Most anti-forensic stripes: QEMU and cryptsetup write 4000.</summary>
    public const uint MaxStripes = 1u << 16;

    private void Validate(long regionLength)
    {
        if (KeyBytes is 0 or > 64)
        {
            throw Invalid($"key size {KeyBytes} bytes is out of range (1..64)");
        }

        if (MasterKeyDigestIterations is 0 or > int.MaxValue)
        {
            throw Invalid($"master key digest iterations {MasterKeyDigestIterations} out of range (1..{int.MaxValue})");
        }

        foreach (var slot in Slots.Where(s => s.Active))
        {
            if (slot.Iterations is 0 or > int.MaxValue)
            {
                throw Invalid($"key slot {slot.Index} iterations {slot.Iterations} out of range (1..{int.MaxValue})");
            }

            if (slot.Stripes is 0 or > MaxStripes)
            {
                throw Invalid($"key slot {slot.Index} has {slot.Stripes} stripes (1..{MaxStripes})");
            }

            long start = (long)slot.KeyMaterialSector * SectorCipher.SectorSize;
            if (start < Size || start + KeyMaterialLength(slot) > regionLength)
            {
                throw Invalid($"key slot {slot.Index} material at {start} (+{KeyMaterialLength(slot)}) lies outside the LUKS area ({regionLength} bytes)");
            }
        }

        if (!Slots.Any(s => s.Active))
        {
            throw new Qcow2Exception(Qcow2ErrorCode.Password, "the LUKS header has no active key slot: no password can open it");
        }
    }

    /// <summary>Bytes a slot's key material takes on disk: KeyBytes x stripes, in whole sectors.</summary>
    public long KeyMaterialLength(LuksKeySlot slot)
    {
        ArgumentNullException.ThrowIfNull(slot);
        return ((long)KeyBytes * slot.Stripes + SectorCipher.SectorSize - 1) / SectorCipher.SectorSize * SectorCipher.SectorSize;
    }

    /// <summary>The hash named by hash-spec, for PBKDF2, AF diffusion and ESSIV.</summary>
    public HashAlgorithmName Hash => LuksHash.Parse(HashSpec);

    /// <summary>
    /// Finds the master key: each active slot's key material, decrypted with the key PBKDF2 derives from the
    /// password, AF-merged, and checked against the master key digest.
    /// </summary>
    /// <param name="password">The password's bytes (UTF-8), as cryptsetup and QEMU take them.</param>
    /// <param name="readRegion">Reads bytes of the LUKS area (offset from its start).</param>
    public byte[] Unlock(ReadOnlySpan<byte> password, Func<long, int, byte[]> readRegion)
    {
        ArgumentNullException.ThrowIfNull(readRegion);
        var hash = Hash;
        var (cipherFactory, _) = CipherFactory();
        int hashLength = LuksHash.Digest(hash, []).Length;
        long slotBlocks = (KeyBytes + hashLength - 1) / hashLength;
        long work = 0;
        foreach (var slot in Slots.Where(s => s.Active))
        {
            work += (slot.Iterations * slotBlocks) + MasterKeyDigestIterations;
            if (work > MaxUnlockWork)
            {
                throw Invalid($"key slot {slot.Index} would take the unlock past {MaxUnlockWork} PBKDF2 rounds (iterations {slot.Iterations}, master key digest {MasterKeyDigestIterations})");
            }

            byte[] slotKey = Rfc2898DeriveBytes.Pbkdf2(password, slot.Salt.Span, (int)slot.Iterations, hash, (int)KeyBytes);
            byte[] material = readRegion((long)slot.KeyMaterialSector * SectorCipher.SectorSize, (int)KeyMaterialLength(slot));
            try
            {
                using (var cipher = cipherFactory(slotKey))
                {
                    cipher.Decrypt(0, material);
                }

                byte[] candidate = AntiForensic.Merge(material.AsSpan(0, (int)(KeyBytes * slot.Stripes)), (int)KeyBytes, (int)slot.Stripes, hash);
                byte[] digest = Rfc2898DeriveBytes.Pbkdf2(candidate, MasterKeyDigestSalt.Span, (int)MasterKeyDigestIterations, hash, MasterKeyDigest.Length);
                if (CryptographicOperations.FixedTimeEquals(digest, MasterKeyDigest.Span))
                {
                    return candidate;
                }

                CryptographicOperations.ZeroMemory(candidate);
            }
            finally
            {
                CryptographicOperations.ZeroMemory(slotKey);
                CryptographicOperations.ZeroMemory(material);
            }
        }

        throw new Qcow2Exception(Qcow2ErrorCode.Password, "wrong password: it opens none of the image's LUKS key slots");
    }

    /// <summary>The data cipher for a key, from cipher-name and cipher-mode ("aes", "xts-plain64" / "cbc-essiv:sha256").</summary>
    public SectorCipher CreateCipher(ReadOnlySpan<byte> key) => CipherFactory().Create(key.ToArray());

    private (Func<byte[], SectorCipher> Create, string Description) CipherFactory()
    {
        if (!CipherName.Equals("aes", StringComparison.OrdinalIgnoreCase))
        {
            throw new Qcow2Exception(Qcow2ErrorCode.Unsupported, $"LUKS cipher '{CipherName}': only aes is supported");
        }

        string[] parts = CipherMode.Split('-', 2);
        string mode = parts[0];
        string ivSpec = parts.Length > 1 ? parts[1] : "";
        string[] iv = ivSpec.Split(':', 2);
        var generator = iv[0] switch
        {
            "plain" => IvGenerator.Plain,
            "plain64" => IvGenerator.Plain64,
            "essiv" when iv.Length == 2 => IvGenerator.Essiv,
            _ => throw new Qcow2Exception(Qcow2ErrorCode.Unsupported, $"LUKS cipher mode '{CipherMode}': unsupported IV generator"),
        };
        switch (mode)
        {
            case "xts" when generator != IvGenerator.Essiv && KeyBytes is 32 or 64:
                bool plain32 = generator == IvGenerator.Plain;
                return (key => new XtsAesCipher(key, plain32), CipherMode);
            case "cbc" when KeyBytes is 16 or 24 or 32:
                HashAlgorithmName? essiv = generator == IvGenerator.Essiv ? LuksHash.Parse(iv[1]) : null;
                if (essiv is { } h && LuksHash.Digest(h, []).Length is not (16 or 24 or 32))
                {
                    // ESSIV keys AES with the digest: there is no AES with a 20-, 48- or 64-byte key (QEMU refuses it too).
                    throw new Qcow2Exception(Qcow2ErrorCode.Unsupported, $"LUKS cipher mode '{CipherMode}': {h.Name} gives no AES key size");
                }

                return (key => new CbcAesCipher(key, generator, essiv), CipherMode);
            default:
                throw new Qcow2Exception(Qcow2ErrorCode.Unsupported, $"LUKS cipher aes-{KeyBytes * 8} {CipherMode}: not supported");
        }
    }

    /// <summary>A NUL-padded text field; printable ASCII only, so a hostile header cannot put control codes on a terminal.</summary>
    private static string Text(ReadOnlySpan<byte> field)
    {
        int end = field.IndexOf((byte)0);
        var text = end < 0 ? field : field[..end];
        if (text.ContainsAnyExceptInRange((byte)0x20, (byte)0x7E))
        {
            throw Invalid("a text field (cipher, mode, hash or uuid) holds bytes that are not printable ASCII");
        }

        return Encoding.ASCII.GetString(text);
    }

    private static Qcow2Exception Invalid(string what) => new(Qcow2ErrorCode.InvalidHeader, $"LUKS header: {what}");
}

/// <summary>The hashes LUKS names in hash-spec.</summary>
public static class LuksHash
{
    public static HashAlgorithmName Parse(string name)
    {
        ArgumentNullException.ThrowIfNull(name);
        return name.ToLowerInvariant() switch
        {
            "sha1" => HashAlgorithmName.SHA1,
            "sha256" => HashAlgorithmName.SHA256,
            "sha384" => HashAlgorithmName.SHA384,
            "sha512" => HashAlgorithmName.SHA512,
            _ => throw new Qcow2Exception(Qcow2ErrorCode.Unsupported, $"LUKS hash '{name}': not supported (sha1, sha256, sha384, sha512)"),
        };
    }

    public static byte[] Digest(HashAlgorithmName hash, ReadOnlySpan<byte> data)
    {
        using var h = IncrementalHash.CreateHash(hash);
        h.AppendData(data);
        return h.GetHashAndReset();
    }
}

/// <summary>LUKS1's anti-forensic splitter, the merge half: stripes XORed together through a hash diffusion.</summary>
public static class AntiForensic
{
    public static byte[] Merge(ReadOnlySpan<byte> material, int blockSize, int stripes, HashAlgorithmName hash)
    {
        byte[] block = new byte[blockSize];
        using var h = IncrementalHash.CreateHash(hash);
        for (int i = 0; i < stripes - 1; i++)
        {
            Xor(block, material.Slice(i * blockSize, blockSize));
            Diffuse(block, h);
        }

        Xor(block, material.Slice((stripes - 1) * blockSize, blockSize));
        return block;
    }

    /// <summary>Each digest-sized piece i (and a shorter last one) becomes H(be32(i) || piece), cut to its length.</summary>
    private static void Diffuse(Span<byte> block, IncrementalHash h)
    {
        int size = h.HashLengthInBytes;
        Span<byte> counter = stackalloc byte[4];
        Span<byte> digest = stackalloc byte[64];
        for (int i = 0, at = 0; at < block.Length; i++, at += size)
        {
            int n = Math.Min(size, block.Length - at);
            BinaryPrimitives.WriteInt32BigEndian(counter, i);
            h.AppendData(counter);
            h.AppendData(block.Slice(at, n));
            h.GetHashAndReset(digest);
            digest[..n].CopyTo(block.Slice(at, n));
        }
    }

    private static void Xor(Span<byte> into, ReadOnlySpan<byte> with)
    {
        for (int i = 0; i < into.Length; i++)
        {
            into[i] ^= with[i];
        }
    }
}
