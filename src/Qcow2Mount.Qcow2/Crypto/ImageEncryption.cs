using System.Security.Cryptography;
using Qcow2Mount.Qcow2.Format;
using Qcow2Mount.Qcow2.Storage;

namespace Qcow2Mount.Qcow2.Crypto;

/// <summary>
/// How an image's data clusters are encrypted, and (once a password opened it) the cipher that reads them.
/// Legacy AES (crypt_method 1): AES-128-CBC keyed by the password itself, IVs from the guest sector number, no
/// way to tell a wrong password. LUKS (crypt_method 2): a LUKS1 header inside the image, IVs from the host sector
/// number. Compressed clusters are not encrypted (QEMU never writes them encrypted).
/// </summary>
public sealed class ImageEncryption : IDisposable
{
    /// <summary>Most bytes the LUKS area may take (QEMU's is about 2 MiB): it is read whole to unlock.</summary>
    public const long MaxLuksAreaBytes = 64L << 20;

    private ImageEncryption(CryptMethod method, LuksHeader? luks, long luksOffset, long luksLength, SectorCipher? cipher)
    {
        Method = method;
        Luks = luks;
        LuksOffset = luksOffset;
        LuksLength = luksLength;
        Cipher = cipher;
    }

    public CryptMethod Method { get; }

    /// <summary>The LUKS header (LUKS images only).</summary>
    public LuksHeader? Luks { get; }

    /// <summary>Where the LUKS area lies in the image file (LUKS images only).</summary>
    public long LuksOffset { get; }

    public long LuksLength { get; }

    /// <summary>Decrypts data clusters; null when the image was opened without a password (metadata only).</summary>
    public SectorCipher? Cipher { get; }

    /// <summary>IVs count host sectors (LUKS) rather than guest sectors (legacy AES).</summary>
    public bool UsesHostSectors => Method == CryptMethod.Luks;

    /// <summary>Reads the image's encryption header and, given a password, unlocks it.</summary>
    public static ImageEncryption Open(IHostFile file, Qcow2Header header, HeaderExtensions extensions, byte[]? password, UnlockedKeys? keys = null)
    {
        ArgumentNullException.ThrowIfNull(file);
        ArgumentNullException.ThrowIfNull(header);
        ArgumentNullException.ThrowIfNull(extensions);
        switch (header.CryptMethod)
        {
            case CryptMethod.Aes:
                return new ImageEncryption(CryptMethod.Aes, null, 0, 0, password is null ? null : AesKey(password));
            case CryptMethod.Luks:
                var (offset, length) = extensions.LuksHeaderLocation
                    ?? throw new Qcow2Exception(Qcow2ErrorCode.InvalidHeader, "LUKS-encrypted image without its LUKS header extension");
                if (offset % header.ClusterSize != 0 || length < LuksHeader.Size || length > MaxLuksAreaBytes || offset > file.Length - length)
                {
                    throw new Qcow2Exception(Qcow2ErrorCode.InvalidHeader,
                        $"LUKS header area at {offset} (+{length}) is misaligned, out of range or past the end of the file");
                }

                byte[] start = Read(file, offset, LuksHeader.Size);
                var luks = LuksHeader.Parse(start, length);
                SectorCipher? cipher = null;
                if (password is not null)
                {
                    byte[] Unlock() => luks.Unlock(password, (at, n) => Read(file, offset + at, n));
                    byte[] key = keys is null ? Unlock() : keys.GetOrUnlock(start, password, Unlock);
                    try
                    {
                        cipher = luks.CreateCipher(key);
                    }
                    finally
                    {
                        CryptographicOperations.ZeroMemory(key);
                    }
                }

                return new ImageEncryption(CryptMethod.Luks, luks, offset, length, cipher);
            default:
                throw new Qcow2Exception(Qcow2ErrorCode.Unsupported, $"crypt_method {(int)header.CryptMethod}");
        }
    }

    /// <summary>QEMU's qcow AES key: the password's first 16 bytes, zero-padded.</summary>
    private static CbcAesCipher AesKey(byte[] password)
    {
        Span<byte> key = stackalloc byte[16];
        password.AsSpan(0, Math.Min(16, password.Length)).CopyTo(key);
        var cipher = new CbcAesCipher(key, IvGenerator.Plain64);
        CryptographicOperations.ZeroMemory(key);
        return cipher;
    }

    private static byte[] Read(IHostFile file, long offset, int length)
    {
        byte[] bytes = new byte[length];
        if (file.ReadAt(offset, bytes) != length)
        {
            throw new Qcow2Exception(Qcow2ErrorCode.Corrupt, $"LUKS header area at {offset} (+{length}) lies past the end of the file");
        }

        return bytes;
    }

    public void Dispose() => Cipher?.Dispose();
}

/// <summary>
/// Master keys already unlocked, for opening the same LUKS image several times in a row (a mount opens it once per
/// internal snapshot) without running PBKDF2, seconds of work by design, each time. A key is found by the LUKS header
/// and the password: the header holds the digest the key was checked against, so an equal header takes the same key.
/// Keep one only as long as the opens that share it.
/// </summary>
public sealed class UnlockedKeys
{
    private readonly Dictionary<string, byte[]> _keys = [];
    private readonly Lock _lock = new();

    internal byte[] GetOrUnlock(ReadOnlySpan<byte> header, byte[] password, Func<byte[]> unlock)
    {
        using var hash = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
        hash.AppendData(header);
        hash.AppendData(password);
        string id = Convert.ToHexString(hash.GetHashAndReset());
        lock (_lock)
        {
            if (!_keys.TryGetValue(id, out byte[]? key))
            {
                key = unlock();
                _keys[id] = key;
            }

            return (byte[])key.Clone();
        }
    }
}
