namespace Qcow2Mount.Operations.Tests;

/// <summary>Passwords come from the front end's provider, asked only for encrypted images.</summary>
internal sealed class PasswordTests
{
    private const string Password = "s3cret";

    private TempDir _dir = null!;

    [SetUp]
    public void SetUp() => _dir = new TempDir("ops-password");

    [TearDown]
    public void TearDown() => _dir.Dispose();

    private string EncryptedImage()
    {
        ExternalTool.RequireTool("qemu-img");
        string image = _dir.Combine("secret.qcow2");
        EncryptedImages.Create(image, Password, size: "1M");
        return image;
    }

    [Test]
    public void A_provider_that_refuses_gives_the_password_error()
    {
        string image = EncryptedImage();
        var refusing = new CountingPasswords(null);

        var hash = Assert.ThrowsAsync<OperationException>(() => ImageOperations.HashAsync(new HashOptions { Image = image, Passwords = refusing }))!;
        var convert = Assert.ThrowsAsync<OperationException>(() => ImageOperations.ConvertAsync(
            new ConvertOptions { Source = image, Destination = _dir.Combine("out.raw"), Passwords = PasswordProviders.None }))!;

        Assert.Multiple(() =>
        {
            Assert.That(hash.Code, Is.EqualTo(OperationErrorCode.Password));
            Assert.That(convert.Code, Is.EqualTo(OperationErrorCode.Password));
            Assert.That(refusing.Asked, Is.EqualTo(1));
            Assert.That(File.Exists(_dir.Combine("out.raw")), Is.False);
        });
    }

    [Test]
    public async Task The_right_password_opens_the_image_once_asked()
    {
        string image = EncryptedImage();
        var passwords = new CountingPasswords(Password);
        string raw = _dir.Combine("expected.raw");
        EncryptedImages.ConvertToRaw(image, Password, raw);

        var result = await ImageOperations.HashAsync(new HashOptions { Image = image, Passwords = passwords });
        var wrong = Assert.ThrowsAsync<OperationException>(() =>
            ImageOperations.HashAsync(new HashOptions { Image = image, Passwords = PasswordProviders.FromString("guess") }))!;

        Assert.Multiple(() =>
        {
            Assert.That(passwords.Asked, Is.EqualTo(1));
            Assert.That(result.Digests[0].Hex, Is.EqualTo(Convert.ToHexStringLower(System.Security.Cryptography.SHA256.HashData(File.ReadAllBytes(raw)))));
            Assert.That(wrong.Code, Is.EqualTo(OperationErrorCode.Password));
        });
    }

    [Test]
    public async Task A_plain_image_never_asks()
    {
        string image = _dir.Combine("plain.qcow2");
        SourceImages.Filled(image, 1 << 20);
        var passwords = new CountingPasswords(Password);

        await ImageOperations.HashAsync(new HashOptions { Image = image, Passwords = passwords });

        Assert.That(passwords.Asked, Is.Zero);
    }
}
