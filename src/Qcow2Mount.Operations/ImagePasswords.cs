using Qcow2Mount.Qcow2;

namespace Qcow2Mount.Operations;

/// <summary>Asks a front end's <see cref="IPasswordProvider"/>, but only for an image that needs a password.</summary>
public static class ImagePasswords
{
    /// <summary>
    /// The password for <paramref name="image"/>: asked of <paramref name="provider"/> when the image or a file of its
    /// backing chain is encrypted, otherwise null (also when that cannot be told: the real open then says why).
    /// A declined request gives null, which the engine refuses with its password error.
    /// </summary>
    public static async ValueTask<byte[]?> ForImageAsync(IPasswordProvider? provider, string image, ImageFormat? format, CancellationToken cancellationToken)
    {
        if (provider is null || !NeedsPassword(image, ImageFormats.Name(format)))
        {
            return null;
        }

        return await provider.GetPasswordAsync(new PasswordRequest(image), cancellationToken).ConfigureAwait(false);
    }

    private static bool NeedsPassword(string image, string? format)
    {
        try
        {
            return ImageInspector.Inspect(image, format, null, backingChain: true, forceShare: true).Any(i => i.Encrypted);
        }
        catch (Exception e) when (e is Qcow2Exception or IOException or UnauthorizedAccessException)
        {
            return false;
        }
    }
}
