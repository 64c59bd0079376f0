using System.Runtime.InteropServices;
using System.Runtime.Versioning;

namespace Qcow2Mount.Launcher;

/// <summary>
/// What the launcher shows: an error box, the password prompt, and the Explorer window at the new drive. With
/// <see cref="TranscriptVariable"/> set (tests, and Wine where no one clicks), each appends its text to that file
/// instead, and the password prompt answers "cancelled".
/// </summary>
internal static partial class Dialogs
{
    public const string TranscriptVariable = "QCOW2MOUNT_DIALOG_TRANSCRIPT";
    public const string Title = "Qcow2Mount";

    private const uint MbOk = 0x0;
    private const uint MbIconError = 0x10;
    private const uint MbSetForeground = 0x10000;

    private static string? Transcript => Environment.GetEnvironmentVariable(TranscriptVariable) is { Length: > 0 } path ? path : null;

    public static void Error(string text)
    {
        if (Transcript is { } file)
        {
            Append(file, "error", text);
        }
        else if (OperatingSystem.IsWindows())
        {
            _ = MessageBoxW(0, text, Title, MbOk | MbIconError | MbSetForeground);
        }
    }

    /// <summary>The password typed for <paramref name="imagePath"/> as UTF-16 characters the caller clears, or null when cancelled.</summary>
    public static char[]? Password(string imagePath, bool retry)
    {
        string prompt = (retry ? "That password did not open the image. " : "") + $"Password for {Path.GetFileName(imagePath)}:";
        if (Transcript is { } file)
        {
            Append(file, "password", prompt);
            return null;
        }

        return OperatingSystem.IsWindows() ? PasswordDialog.Show(Title, prompt) : null;
    }

    /// <summary>An Explorer window at <paramref name="folder"/> (the mounted drive).</summary>
    public static void Open(string folder)
    {
        if (Transcript is { } file)
        {
            Append(file, "open", folder);
            return;
        }

        using var _ = System.Diagnostics.Process.Start(new System.Diagnostics.ProcessStartInfo("explorer.exe") { ArgumentList = { folder } });
    }

    private static void Append(string file, string kind, string text) =>
        File.AppendAllText(file, $"{kind}: {text.ReplaceLineEndings(" ")}{Environment.NewLine}");

    [SupportedOSPlatform("windows")]
    [LibraryImport("user32.dll", StringMarshalling = StringMarshalling.Utf16)]
    private static partial int MessageBoxW(nint owner, string text, string caption, uint type);
}
