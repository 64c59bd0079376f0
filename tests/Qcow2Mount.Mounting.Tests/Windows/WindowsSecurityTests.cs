using System.Buffers.Binary;
using Qcow2Mount.Mounting.Windows;

namespace Qcow2Mount.Mounting.Tests.Windows;

internal sealed class WindowsSecurityTests
{
    private const string User = "S-1-5-21-1004336348-1177238915-682003330-1001";

    [Test]
    public void Well_known_sids_have_their_documented_binary_form()
    {
        Assert.Multiple(() =>
        {
            // BUILTIN\Administrators: revision 1, two sub-authorities, NT authority 5, 32, 544.
            Assert.That(WindowsSecurity.ParseSid("S-1-5-32-544"),
                Is.EqualTo(new byte[] { 1, 2, 0, 0, 0, 0, 0, 5, 32, 0, 0, 0, 0x20, 2, 0, 0 }));
            // Everyone: world authority 1, one sub-authority 0.
            Assert.That(WindowsSecurity.ParseSid("S-1-1-0"), Is.EqualTo(new byte[] { 1, 1, 0, 0, 0, 0, 0, 1, 0, 0, 0, 0 }));
            Assert.That(WindowsSecurity.ParseSid(User), Has.Length.EqualTo(8 + 5 * 4));
        });
    }

    [TestCase("")]
    [TestCase("S-1")]
    [TestCase("S-2-5-32")]
    [TestCase("X-1-5-32")]
    [TestCase("S-1-5-abc")]
    [TestCase("S-1-5-4294967296")]
    [TestCase("S-1-281474976710656-1")]
    public void Malformed_sids_are_refused(string sid)
    {
        Assert.That(() => WindowsSecurity.ParseSid(sid), Throws.ArgumentException);
    }

    [TestCase(false, 0x001200A9u)]
    [TestCase(true, 0x001201BFu)]
    public void The_descriptor_is_self_relative_owned_by_the_user_and_allows_user_and_administrators(bool writable, uint rights)
    {
        byte[] sd = new WindowsSecurity(User).DescriptorFor(writable);
        byte[] user = WindowsSecurity.ParseSid(User);
        byte[] administrators = WindowsSecurity.ParseSid(WindowsSecurity.AdministratorsSid);
        int owner = BinaryPrimitives.ReadInt32LittleEndian(sd.AsSpan(4));
        int group = BinaryPrimitives.ReadInt32LittleEndian(sd.AsSpan(8));
        int dacl = BinaryPrimitives.ReadInt32LittleEndian(sd.AsSpan(16));
        byte[] acl = sd[dacl..];
        byte[] firstAce = acl[8..];
        int firstSize = BinaryPrimitives.ReadUInt16LittleEndian(firstAce.AsSpan(2));
        byte[] secondAce = firstAce[firstSize..];

        Assert.Multiple(() =>
        {
            Assert.That(sd[0], Is.EqualTo(1), "revision");
            Assert.That(BinaryPrimitives.ReadUInt16LittleEndian(sd.AsSpan(2)), Is.EqualTo(0x9004), "self-relative, DACL present and protected");
            Assert.That(sd.AsSpan(owner, user.Length).ToArray(), Is.EqualTo(user));
            Assert.That(sd.AsSpan(group, administrators.Length).ToArray(), Is.EqualTo(administrators));
            Assert.That(BinaryPrimitives.ReadInt32LittleEndian(sd.AsSpan(12)), Is.Zero, "no SACL");
            Assert.That(acl[0], Is.EqualTo(2), "ACL revision");
            Assert.That(BinaryPrimitives.ReadUInt16LittleEndian(acl.AsSpan(2)), Is.EqualTo(sd.Length - dacl), "ACL size");
            Assert.That(BinaryPrimitives.ReadUInt16LittleEndian(acl.AsSpan(4)), Is.EqualTo(2), "two entries");
            Assert.That(firstAce[0], Is.Zero, "ACCESS_ALLOWED_ACE_TYPE");
            Assert.That(BinaryPrimitives.ReadUInt32LittleEndian(firstAce.AsSpan(4)), Is.EqualTo(rights));
            Assert.That(firstAce.AsSpan(8, user.Length).ToArray(), Is.EqualTo(user));
            Assert.That(BinaryPrimitives.ReadUInt32LittleEndian(secondAce.AsSpan(4)), Is.EqualTo(rights));
            Assert.That(secondAce.AsSpan(8, administrators.Length).ToArray(), Is.EqualTo(administrators));
        });
    }

    [Test]
    public void Read_only_rights_grant_no_write_delete_or_ownership()
    {
        uint rights = (uint)WindowsSecurity.ReadRights;
        uint forbidden = (uint)(WindowsAccess.WriteData | WindowsAccess.AppendData | WindowsAccess.WriteAttributes
            | WindowsAccess.WriteExtendedAttributes | WindowsAccess.Delete | WindowsAccess.DeleteChild | WindowsAccess.WriteDac | WindowsAccess.WriteOwner);

        Assert.Multiple(() =>
        {
            Assert.That(rights & forbidden, Is.Zero);
            Assert.That((uint)WindowsSecurity.WriteRights & (uint)(WindowsAccess.Delete | WindowsAccess.WriteDac | WindowsAccess.WriteOwner), Is.Zero);
        });
    }

    [Test]
    public void The_sddl_says_the_same()
    {
        var security = new WindowsSecurity(User);

        Assert.That(security.SddlFor(writable: false),
            Is.EqualTo($"O:{User}G:S-1-5-32-544D:P(A;;0x1200a9;;;{User})(A;;0x1200a9;;;S-1-5-32-544)"));
    }

    [Test]
    public void Answering_a_query_allocates_nothing()
    {
        var security = new WindowsSecurity(User);
        byte[] first = security.DescriptorFor(true);

        Assert.That(security.DescriptorFor(true), Is.SameAs(first));
    }
}
