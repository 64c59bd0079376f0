using System.Runtime.InteropServices;
using System.Runtime.Versioning;

namespace Qcow2Mount.Explorer;

/// <summary>Tells Explorer and running programs that associations or the environment changed, so no logoff is needed.</summary>
[SupportedOSPlatform("windows")]
public static partial class ShellNotifications
{
    private const int ShcneAssocChanged = 0x08000000;
    private const uint ShcnfIdList = 0;
    private const nint HwndBroadcast = 0xffff;
    private const uint WmSettingChange = 0x001A;
    private const uint SmtoAbortIfHung = 0x0002;

    public static void AssociationsChanged() => SHChangeNotify(ShcneAssocChanged, ShcnfIdList, 0, 0);

    public static void EnvironmentChanged()
    {
        // A hung window must not hang the installer: each gets at most a second.
        _ = SendMessageTimeoutW(HwndBroadcast, WmSettingChange, 0, "Environment", SmtoAbortIfHung, 1000, out _);
    }

    [LibraryImport("shell32.dll")]
    private static partial void SHChangeNotify(int eventId, uint flags, nint item1, nint item2);

    [LibraryImport("user32.dll", StringMarshalling = StringMarshalling.Utf16)]
    private static partial nint SendMessageTimeoutW(nint hwnd, uint message, nint wParam, string lParam, uint flags, uint timeout, out nint result);
}
