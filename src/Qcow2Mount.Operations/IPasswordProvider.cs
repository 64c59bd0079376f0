namespace Qcow2Mount.Operations;

/// <summary>
/// Where an operation gets the password of an encrypted image. Each front end supplies its own: the CLI asks at
/// the terminal or reads <c>--password-file</c>, the PowerShell module takes a SecureString, the Explorer launcher
/// shows a dialog. Operations ask only when an image of the chain is encrypted, at most once per operation.
/// </summary>
public interface IPasswordProvider
{
    /// <summary>
    /// The password for <paramref name="request"/>, UTF-8; null declines, and the operation then fails with
    /// <see cref="OperationErrorCode.Password"/>. A provider may also throw <see cref="OperationCanceledException"/>
    /// (the user cancelled the dialog).
    /// </summary>
    ValueTask<byte[]?> GetPasswordAsync(PasswordRequest request, CancellationToken cancellationToken);
}

/// <summary>What a password is asked for: the image as the caller named it.</summary>
public sealed record PasswordRequest(string ImagePath);

/// <summary>Ready-made providers.</summary>
public static class PasswordProviders
{
    /// <summary>Declines every request: an encrypted image fails with <see cref="OperationErrorCode.Password"/>.</summary>
    public static IPasswordProvider None { get; } = new Fixed(null);

    /// <summary>Always answers <paramref name="password"/> (UTF-8 bytes, copied).</summary>
    public static IPasswordProvider FromBytes(byte[] password)
    {
        ArgumentNullException.ThrowIfNull(password);
        return new Fixed([.. password]);
    }

    /// <summary>Always answers <paramref name="password"/>, encoded as UTF-8.</summary>
    public static IPasswordProvider FromString(string password)
    {
        ArgumentNullException.ThrowIfNull(password);
        return new Fixed(System.Text.Encoding.UTF8.GetBytes(password));
    }

    private sealed class Fixed(byte[]? password) : IPasswordProvider
    {
        public ValueTask<byte[]?> GetPasswordAsync(PasswordRequest request, CancellationToken cancellationToken) =>
            ValueTask.FromResult(password is null ? null : (byte[]?)[.. password]);
    }
}
