using System.Buffers.Binary;
using System.Text.Json;

namespace Qcow2Mount.PowerShell.Tests;

/// <summary>
/// Two good images with four bad ones between them, one of each failure a script must tell apart: missing,
/// corrupt, encrypted (given the wrong password), and locked (the caller holds it with <see cref="QemuWriter"/>).
/// </summary>
internal sealed record BadImages(string Good1, string Missing, string Corrupt, string Encrypted, string Locked, string Good2)
{
    public const string Password = "the-password";

    public IEnumerable<string> InPipelineOrder => [Good1, Missing, Corrupt, Encrypted, Locked, Good2];

    /// <summary>The ErrorId and category each bad image gets, in pipeline order.</summary>
    public IEnumerable<(string Target, string Id, string Category)> Expected =>
    [
        (Missing, "FileNotFound", "ObjectNotFound"),
        (Corrupt, "CorruptImage", "InvalidData"),
        (Encrypted, "InvalidPassword", "AuthenticationError"),
        (Locked, "ImageLocked", "ResourceBusy"),
    ];

    public static BadImages Make(TempDir dir)
    {
        string Plain(string name, string pattern)
        {
            string path = dir.Combine(name);
            ExternalTool.Run("qemu-img", ["create", "-q", "-f", "qcow2", path, "4M"]).EnsureSuccess();
            ExternalTool.Run("qemu-io", ["-c", $"write -P {pattern} 0 1M", path]).EnsureSuccess();
            return path;
        }

        string corrupt = Plain("corrupt.qcow2", "0x44");
        // The L1 table offset (header bytes 40..47) no longer cluster-aligned: refused as corrupt metadata on open.
        using (var file = File.Open(corrupt, FileMode.Open, FileAccess.ReadWrite))
        {
            Span<byte> offset = stackalloc byte[8];
            BinaryPrimitives.WriteUInt64BigEndian(offset, 0x30001);
            file.Position = 40;
            file.Write(offset);
        }

        string encrypted = dir.Combine("encrypted.qcow2");
        EncryptedImages.Create(encrypted, Password, size: "4M");
        return new BadImages(
            Good1: Plain("good1.qcow2", "0x11"),
            Missing: dir.Combine("missing.qcow2"),
            Corrupt: corrupt,
            Encrypted: encrypted,
            Locked: Plain("locked.qcow2", "0x55"),
            Good2: Plain("good2.qcow2", "0x22"));
    }

    /// <summary>Asserts the errors a script saved (Id, Category, Target each) are the expected ones, in order.</summary>
    public static void AssertErrors(JsonElement errors, BadImages images, string cmdletClass)
    {
        var actual = errors.EnumerateArray()
            .Select(e => (Target: e.GetProperty("Target").GetString()!, Id: e.GetProperty("Id").GetString()!, Category: e.GetProperty("Category").GetString()!))
            .ToList();
        var expected = images.Expected
            .Select(e => (e.Target, Id: $"{e.Id},Qcow2Mount.PowerShell.Commands.{cmdletClass}", e.Category))
            .ToList();
        Assert.That(actual, Is.EqualTo(expected));
    }
}
