using Qcow2Mount.Operations;

namespace Qcow2Mount.Cli.Prompts;

/// <summary>
/// The CLI's password source: the first line of <c>--password-file</c> ("-": standard input) when one is named;
/// otherwise, where allowed, a prompt without echo at the terminal, when both standard input and the command's
/// error writer are one; otherwise none (an encrypted image is then refused with exit 14).
/// </summary>
internal sealed class CliPasswords(string? passwordFile, TextWriter error, bool mayPrompt = true) : IPasswordProvider
{
    public ValueTask<byte[]?> GetPasswordAsync(PasswordRequest request, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(request);
        if (passwordFile is not null)
        {
            return ValueTask.FromResult<byte[]?>(ReadFile(passwordFile));
        }

        if (!mayPrompt || !ReferenceEquals(error, Console.Error) || Console.IsErrorRedirected || Console.IsInputRedirected)
        {
            return ValueTask.FromResult<byte[]?>(null);
        }

        return ValueTask.FromResult<byte[]?>(Prompt(request.ImagePath));
    }

    /// <summary>The first line of <paramref name="file"/>, as UTF-8.</summary>
    private static byte[] ReadFile(string file)
    {
        string text;
        try
        {
            text = file == "-" ? Console.In.ReadLine() ?? "" : File.ReadLines(file).FirstOrDefault() ?? "";
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw new UsageException($"--password-file {file}: {e.Message}");
        }

        return System.Text.Encoding.UTF8.GetBytes(text);
    }

    private byte[] Prompt(string image)
    {
        error.Write($"Password for {image}: ");
        var typed = new System.Text.StringBuilder();
        while (true)
        {
            var key = Console.ReadKey(intercept: true);
            if (key.Key == ConsoleKey.Enter)
            {
                break;
            }

            if (key.Key == ConsoleKey.Backspace)
            {
                typed.Length = Math.Max(0, typed.Length - 1);
            }
            else if (key.KeyChar != '\0')
            {
                typed.Append(key.KeyChar);
            }
        }

        error.WriteLine();
        return System.Text.Encoding.UTF8.GetBytes(typed.ToString());
    }
}
