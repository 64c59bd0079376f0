using System.Buffers.Binary;
using System.Runtime.InteropServices;
using System.Security.Cryptography;

namespace Qcow2Mount.Qcow2.Crypto;

/// <summary>
/// A disk cipher: 512-byte sectors, each encrypted on its own with an IV made from its sector number, as QEMU's
/// block crypto layer (crypto/block.c) does for both LUKS and the legacy qcow2 AES method. Thread-safe: each
/// thread gets its own AES key schedules.
/// </summary>
public abstract class SectorCipher : IDisposable
{
    public const int SectorSize = 512;

    /// <summary>Decrypts whole sectors in place; the first is sector <paramref name="sector"/>.</summary>
    public abstract void Decrypt(long sector, Span<byte> data);

    /// <summary>Encrypts whole sectors in place; the first is sector <paramref name="sector"/>.</summary>
    public abstract void Encrypt(long sector, Span<byte> data);

    public abstract void Dispose();

    protected static void CheckSectors(Span<byte> data)
    {
        if (data.Length % SectorSize != 0)
        {
            throw new ArgumentException($"{data.Length} bytes: not a whole number of {SectorSize}-byte sectors", nameof(data));
        }
    }

    /// <summary>
    /// One AES key schedule per thread (a .NET Aes object is not safe to share between threads). Once disposed,
    /// <see cref="Value"/> throws, and <see cref="ThrowIfDisposed"/> after a transform tells one that raced the
    /// disposal (whose result cannot be trusted) from one that finished before it.
    /// </summary>
    protected sealed class AesPerThread(byte[] key) : IDisposable
    {
        private volatile bool _disposed;

        private readonly ThreadLocal<Aes> _aes = new(() =>
        {
            var aes = Aes.Create();
            aes.Key = key;
            return aes;
        }, trackAllValues: true);

        public Aes Value
        {
            get
            {
                ThrowIfDisposed();
                return _aes.Value!;
            }
        }

        public void ThrowIfDisposed() => ObjectDisposedException.ThrowIf(_disposed, typeof(SectorCipher));

        public void Dispose()
        {
            _disposed = true;
            foreach (var aes in _aes.Values)
            {
                aes.Dispose();
            }

            _aes.Dispose();
            CryptographicOperations.ZeroMemory(key);
        }
    }
}

/// <summary>How an IV is made from a sector number (QEMU's ivgen: plain, plain64, essiv).</summary>
public enum IvGenerator
{
    /// <summary>The low 32 bits of the sector number, little-endian, zero-padded.</summary>
    Plain,
    /// <summary>The 64-bit sector number, little-endian, zero-padded.</summary>
    Plain64,
    /// <summary>plain64 encrypted with AES under the hash of the key.</summary>
    Essiv,
}

/// <summary>AES-XTS (IEEE P1619) with plain64 tweaks: the first half of the key encrypts data, the second the tweak.</summary>
public sealed class XtsAesCipher : SectorCipher
{
    private const int BlocksPerSector = SectorSize / 16;
    private readonly AesPerThread _data;
    private readonly AesPerThread _tweak;
    private readonly bool _plain32;

    public XtsAesCipher(ReadOnlySpan<byte> key, bool plain32 = false)
    {
        if (key.Length is not (32 or 64))
        {
            throw new ArgumentException($"an XTS key is 32 or 64 bytes, not {key.Length}", nameof(key));
        }

        _data = new AesPerThread(key[..(key.Length / 2)].ToArray());
        _tweak = new AesPerThread(key[(key.Length / 2)..].ToArray());
        _plain32 = plain32;
    }

    public override void Decrypt(long sector, Span<byte> data) => Transform(sector, data, encrypt: false);

    public override void Encrypt(long sector, Span<byte> data) => Transform(sector, data, encrypt: true);

    private void Transform(long sector, Span<byte> data, bool encrypt)
    {
        CheckSectors(data);
        const int Batch = 64; // sectors whose tweaks are made with one AES call
        Span<byte> tweaks = stackalloc byte[Batch * 16];
        byte[] mask = System.Buffers.ArrayPool<byte>.Shared.Rent(Batch * SectorSize);
        try
        {
            for (int done = 0; done < data.Length; done += Batch * SectorSize)
            {
                var chunk = data.Slice(done, Math.Min(Batch * SectorSize, data.Length - done));
                int sectors = chunk.Length / SectorSize;
                long first = sector + (done / SectorSize);
                tweaks.Clear();
                for (int s = 0; s < sectors; s++)
                {
                    ulong number = (ulong)(first + s);
                    BinaryPrimitives.WriteUInt64LittleEndian(tweaks[(s * 16)..], _plain32 ? (uint)number : number);
                }

                var t = tweaks[..(sectors * 16)];
                _tweak.Value.EncryptEcb(t, t, PaddingMode.None);

                // Each block's mask is the sector's tweak times alpha^j in GF(2^128), little-endian.
                var masks = MemoryMarshal.Cast<byte, ulong>(mask.AsSpan(0, chunk.Length));
                for (int s = 0; s < sectors; s++)
                {
                    ulong lo = BinaryPrimitives.ReadUInt64LittleEndian(t[(s * 16)..]);
                    ulong hi = BinaryPrimitives.ReadUInt64LittleEndian(t[(s * 16 + 8)..]);
                    for (int j = 0; j < BlocksPerSector; j++)
                    {
                        int at = (s * BlocksPerSector + j) * 2;
                        masks[at] = BitConverter.IsLittleEndian ? lo : BinaryPrimitives.ReverseEndianness(lo);
                        masks[at + 1] = BitConverter.IsLittleEndian ? hi : BinaryPrimitives.ReverseEndianness(hi);
                        ulong carry = hi >> 63;
                        hi = (hi << 1) | (lo >> 63);
                        lo = (lo << 1) ^ (carry * 0x87);
                    }
                }

                var words = MemoryMarshal.Cast<byte, ulong>(chunk);
                Xor(words, masks);
                if (encrypt)
                {
                    _data.Value.EncryptEcb(chunk, chunk, PaddingMode.None);
                }
                else
                {
                    _data.Value.DecryptEcb(chunk, chunk, PaddingMode.None);
                }

                Xor(words, masks);
            }

            _data.ThrowIfDisposed();
            _tweak.ThrowIfDisposed();
        }
        finally
        {
            System.Buffers.ArrayPool<byte>.Shared.Return(mask);
        }
    }

    private static void Xor(Span<ulong> data, ReadOnlySpan<ulong> mask)
    {
        for (int i = 0; i < data.Length; i++)
        {
            data[i] ^= mask[i];
        }
    }

    public override void Dispose()
    {
        _data.Dispose();
        _tweak.Dispose();
    }
}

/// <summary>AES-CBC per sector, its IV from the sector number (plain, plain64 or ESSIV).</summary>
public sealed class CbcAesCipher : SectorCipher
{
    private readonly AesPerThread _aes;
    private readonly AesPerThread? _essiv;
    private readonly IvGenerator _iv;

    /// <param name="key">The master key (16, 24 or 32 bytes).</param>
    /// <param name="iv">How each sector's IV comes from its number.</param>
    /// <param name="essivHash">With <see cref="IvGenerator.Essiv"/>: the hash of the key that keys the IV cipher.</param>
    public CbcAesCipher(ReadOnlySpan<byte> key, IvGenerator iv, HashAlgorithmName? essivHash = null)
    {
        if (key.Length is not (16 or 24 or 32))
        {
            throw new ArgumentException($"an AES key is 16, 24 or 32 bytes, not {key.Length}", nameof(key));
        }

        _aes = new AesPerThread(key.ToArray());
        _iv = iv;
        if (iv == IvGenerator.Essiv)
        {
            byte[] salt = LuksHash.Digest(essivHash ?? throw new ArgumentNullException(nameof(essivHash)), key);
            if (salt.Length is not (16 or 24 or 32))
            {
                throw new ArgumentException($"ESSIV with {essivHash.Value.Name}: a {salt.Length}-byte digest is no AES key", nameof(essivHash));
            }

            _essiv = new AesPerThread(salt);
        }
    }

    public override void Decrypt(long sector, Span<byte> data) => Transform(sector, data, encrypt: false);

    public override void Encrypt(long sector, Span<byte> data) => Transform(sector, data, encrypt: true);

    private void Transform(long sector, Span<byte> data, bool encrypt)
    {
        CheckSectors(data);
        Span<byte> iv = stackalloc byte[16];
        var aes = _aes.Value;
        for (int at = 0; at < data.Length; at += SectorSize)
        {
            MakeIv(sector + (at / SectorSize), iv);
            var s = data.Slice(at, SectorSize);
            if (encrypt)
            {
                aes.EncryptCbc(s, iv, s, PaddingMode.None);
            }
            else
            {
                aes.DecryptCbc(s, iv, s, PaddingMode.None);
            }
        }

        _aes.ThrowIfDisposed();
        _essiv?.ThrowIfDisposed();
    }

    private void MakeIv(long sector, Span<byte> iv)
    {
        iv.Clear();
        BinaryPrimitives.WriteUInt64LittleEndian(iv, _iv == IvGenerator.Plain ? (uint)sector : (ulong)sector);
        if (_essiv is not null)
        {
            _essiv.Value.EncryptEcb(iv, iv, PaddingMode.None);
        }
    }

    public override void Dispose()
    {
        _aes.Dispose();
        _essiv?.Dispose();
    }
}
