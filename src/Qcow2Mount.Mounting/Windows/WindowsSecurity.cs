using System.Buffers.Binary;
using System.Globalization;

namespace Qcow2Mount.Mounting.Windows;

/// <summary>
/// The fixed security descriptors the Windows adapters return: owned by the mounting user, with a protected DACL
/// that allows that user and the local Administrators group the same rights: read and execute on directories, read-only
/// files and read-only mounts; read, write and execute on files that can be written. Nothing grants DELETE, WRITE_DAC
/// or WRITE_OWNER, since the volume refuses those changes anyway. Built here, without Windows APIs, as self-relative
/// SECURITY_DESCRIPTOR bytes (what WinFsp and Dokan hand to the kernel) and as the equivalent SDDL.
/// </summary>
public sealed class WindowsSecurity
{
    /// <summary>The well-known SID of BUILTIN\Administrators.</summary>
    public const string AdministratorsSid = "S-1-5-32-544";

    /// <summary>FILE_GENERIC_READ | FILE_GENERIC_EXECUTE: what every entry allows.</summary>
    public const WindowsAccess ReadRights = WindowsAccess.FileGenericRead | WindowsAccess.FileGenericExecute;

    /// <summary>Read rights plus FILE_GENERIC_WRITE, on files that can be written.</summary>
    public const WindowsAccess WriteRights = ReadRights | WindowsAccess.FileGenericWrite;

    private const ushort SelfRelative = 0x8000;
    private const ushort DaclProtected = 0x1000;
    private const ushort DaclPresent = 0x0004;
    private const byte AccessAllowedAceType = 0;

    private readonly byte[] _readOnly;
    private readonly byte[] _writable;

    /// <param name="ownerSid">The mounting user's SID in string form (<c>S-1-5-21-...</c>).</param>
    public WindowsSecurity(string ownerSid)
    {
        OwnerSid = ownerSid;
        byte[] owner = ParseSid(ownerSid);
        byte[] administrators = ParseSid(AdministratorsSid);
        _readOnly = Build(owner, administrators, ReadRights);
        _writable = Build(owner, administrators, WriteRights);
    }

    public string OwnerSid { get; }

    /// <summary>
    /// The descriptor for a node (self-relative bytes; callers must not change them). The same array is returned on
    /// every call, so answering a query allocates nothing.
    /// </summary>
    public byte[] DescriptorFor(bool writable) => writable ? _writable : _readOnly;

    /// <summary>The same descriptor as SDDL, for logs and for APIs that take a string.</summary>
    public string SddlFor(bool writable)
    {
        uint rights = (uint)(writable ? WriteRights : ReadRights);
        return string.Create(CultureInfo.InvariantCulture,
            $"O:{OwnerSid}G:{AdministratorsSid}D:P(A;;0x{rights:x};;;{OwnerSid})(A;;0x{rights:x};;;{AdministratorsSid})");
    }

    /// <summary>
    /// The binary form of a SID written as <c>S-R-A-S1-S2-...</c> (authority in decimal, or hex with 0x when above
    /// 32 bits); throws <see cref="ArgumentException"/> for anything else.
    /// </summary>
    public static byte[] ParseSid(string sid)
    {
        ArgumentNullException.ThrowIfNull(sid);
        string[] parts = sid.Split('-');
        if (parts.Length < 3 || parts.Length > 3 + 15 || !parts[0].Equals("S", StringComparison.OrdinalIgnoreCase)
            || !byte.TryParse(parts[1], NumberStyles.None, CultureInfo.InvariantCulture, out byte revision) || revision != 1
            || !TryParseAuthority(parts[2], out ulong authority))
        {
            throw new ArgumentException($"'{sid}' is not a security identifier (S-1-<authority>-<sub-authorities>).", nameof(sid));
        }

        int count = parts.Length - 3;
        var bytes = new byte[8 + 4 * count];
        bytes[0] = revision;
        bytes[1] = (byte)count;
        for (int i = 0; i < 6; i++)
        {
            bytes[2 + i] = (byte)(authority >> (8 * (5 - i)));
        }

        for (int i = 0; i < count; i++)
        {
            if (!uint.TryParse(parts[3 + i], NumberStyles.None, CultureInfo.InvariantCulture, out uint sub))
            {
                throw new ArgumentException($"'{sid}' is not a security identifier: '{parts[3 + i]}' is not a 32-bit number.", nameof(sid));
            }

            BinaryPrimitives.WriteUInt32LittleEndian(bytes.AsSpan(8 + 4 * i), sub);
        }

        return bytes;
    }

    private static bool TryParseAuthority(string text, out ulong authority)
    {
        bool parsed = text.StartsWith("0x", StringComparison.OrdinalIgnoreCase)
            ? ulong.TryParse(text.AsSpan(2), NumberStyles.AllowHexSpecifier, CultureInfo.InvariantCulture, out authority)
            : ulong.TryParse(text, NumberStyles.None, CultureInfo.InvariantCulture, out authority);
        return parsed && authority < 1UL << 48;
    }

    /// <summary>SECURITY_DESCRIPTOR_RELATIVE, then owner SID, group SID and an ACL with one allow entry for each.</summary>
    private static byte[] Build(byte[] owner, byte[] administrators, WindowsAccess rights)
    {
        const int HeaderSize = 20, AclHeaderSize = 8, AceHeaderSize = 8;
        int aclSize = AclHeaderSize + AceHeaderSize + owner.Length + AceHeaderSize + administrators.Length;
        int ownerOffset = HeaderSize;
        int groupOffset = ownerOffset + owner.Length;
        int daclOffset = groupOffset + administrators.Length;
        var bytes = new byte[daclOffset + aclSize];
        var span = bytes.AsSpan();

        span[0] = 1; // SECURITY_DESCRIPTOR_REVISION
        BinaryPrimitives.WriteUInt16LittleEndian(span[2..], SelfRelative | DaclProtected | DaclPresent);
        BinaryPrimitives.WriteUInt32LittleEndian(span[4..], (uint)ownerOffset);
        BinaryPrimitives.WriteUInt32LittleEndian(span[8..], (uint)groupOffset);
        BinaryPrimitives.WriteUInt32LittleEndian(span[12..], 0); // no SACL
        BinaryPrimitives.WriteUInt32LittleEndian(span[16..], (uint)daclOffset);
        owner.CopyTo(span[ownerOffset..]);
        administrators.CopyTo(span[groupOffset..]);

        var acl = span[daclOffset..];
        acl[0] = 2; // ACL_REVISION
        BinaryPrimitives.WriteUInt16LittleEndian(acl[2..], (ushort)aclSize);
        BinaryPrimitives.WriteUInt16LittleEndian(acl[4..], 2);
        int at = AclHeaderSize;
        foreach (byte[] sid in new[] { owner, administrators })
        {
            acl[at] = AccessAllowedAceType;
            acl[at + 1] = 0; // no inheritance: nothing is ever created below
            BinaryPrimitives.WriteUInt16LittleEndian(acl[(at + 2)..], (ushort)(AceHeaderSize + sid.Length));
            BinaryPrimitives.WriteUInt32LittleEndian(acl[(at + 4)..], (uint)rights);
            sid.CopyTo(acl[(at + AceHeaderSize)..]);
            at += AceHeaderSize + sid.Length;
        }

        return bytes;
    }
}
