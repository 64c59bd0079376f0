using System.Runtime.InteropServices;
using System.Security;
using System.Text;
using Qcow2Mount.Operations;

namespace Qcow2Mount.PowerShell.Hosting;

/// <summary>
/// The module's password provider: the -Password SecureString, handed to the core as UTF-8 (as qemu-img and the
/// CLI's --password-file take it). Without -Password it declines, so an encrypted image fails with the password
/// error instead of waiting for an answer a script cannot give.
/// </summary>
internal sealed class SecureStringPasswordProvider(SecureString? password) : IPasswordProvider
{
    public ValueTask<byte[]?> GetPasswordAsync(PasswordRequest request, CancellationToken cancellationToken) =>
        ValueTask.FromResult(password is null ? null : ToUtf8(password));

    private static unsafe byte[] ToUtf8(SecureString password)
    {
        // The clear text exists only in this unmanaged copy, zeroed as it is freed, and in the bytes returned.
        IntPtr text = Marshal.SecureStringToGlobalAllocUnicode(password);
        try
        {
            var chars = new ReadOnlySpan<char>((void*)text, password.Length);
            byte[] bytes = new byte[Encoding.UTF8.GetByteCount(chars)];
            Encoding.UTF8.GetBytes(chars, bytes);
            return bytes;
        }
        finally
        {
            Marshal.ZeroFreeGlobalAllocUnicode(text);
        }
    }
}
