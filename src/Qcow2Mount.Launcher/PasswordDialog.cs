using System.Buffers.Binary;
using System.Runtime.InteropServices;
using System.Runtime.Versioning;

namespace Qcow2Mount.Launcher;

/// <summary>
/// A modal Win32 dialog with a prompt, a password box (ES_PASSWORD: typed characters are not shown) and OK/Cancel,
/// built in memory as a DLGTEMPLATE (no resource file, no WinForms). The password never reaches a command line.
/// </summary>
[SupportedOSPlatform("windows")]
internal static unsafe partial class PasswordDialog
{
    private const int IdOk = 1;
    private const int IdCancel = 2;
    private const int IdPrompt = 100;
    private const int IdPassword = 101;
    private const int MaxPassword = 1024;

    private const uint WsPopup = 0x80000000, WsChild = 0x40000000, WsVisible = 0x10000000, WsCaption = 0x00C00000;
    private const uint WsSysMenu = 0x00080000, WsBorder = 0x00800000, WsTabStop = 0x00010000;
    private const uint DsSetFont = 0x40, DsModalFrame = 0x80, DsSetForeground = 0x200, DsCenter = 0x800;
    private const uint EsPassword = 0x20, EsAutoHScroll = 0x80, BsDefPushButton = 0x1;
    private const ushort ButtonClass = 0x80, EditClass = 0x81, StaticClass = 0x82;
    private const uint WmInitDialog = 0x0110, WmCommand = 0x0111;

    // The dialog runs on this thread only; the procedure hands the typed text back through this field.
    [ThreadStatic]
    private static char[]? typed;

    /// <summary>The typed password (the caller clears it), or null when the dialog was cancelled or closed.</summary>
    public static char[]? Show(string title, string prompt)
    {
        typed = null;
        byte[] template = Template(title, prompt);
        fixed (byte* t = template)
        {
            nint result = DialogBoxIndirectParamW(GetModuleHandleW(null), t, 0, (nint)(delegate* unmanaged<nint, uint, nint, nint, nint>)&DialogProc, 0);
            var password = result == IdOk ? typed : null;
            typed = null;
            return password;
        }
    }

    [UnmanagedCallersOnly]
    private static nint DialogProc(nint dialog, uint message, nint wParam, nint lParam)
    {
        if (message == WmInitDialog)
        {
            _ = SendDlgItemMessageW(dialog, IdPassword, 0x00C5 /* EM_LIMITTEXT */, MaxPassword, 0);
            _ = SetFocus(GetDlgItem(dialog, IdPassword));
            return 0; // focus was set here
        }

        if (message == WmCommand)
        {
            int id = (int)(wParam & 0xffff);
            if (id == IdOk)
            {
                var buffer = new char[MaxPassword + 1];
                fixed (char* b = buffer)
                {
                    int length = GetDlgItemTextW(dialog, IdPassword, b, buffer.Length);
                    typed = buffer[..length];
                }

                Array.Clear(buffer);
                _ = EndDialog(dialog, IdOk);
                return 1;
            }

            if (id == IdCancel)
            {
                _ = EndDialog(dialog, IdCancel);
                return 1;
            }
        }

        return 0;
    }

    /// <summary>DLGTEMPLATE, then four DLGITEMTEMPLATEs, each DWORD-aligned, sizes in dialog units.</summary>
    private static byte[] Template(string title, string prompt)
    {
        var bytes = new List<byte>(512);
        void Word(int v) { Span<byte> s = stackalloc byte[2]; BinaryPrimitives.WriteUInt16LittleEndian(s, (ushort)v); bytes.AddRange(s.ToArray()); }
        void Dword(uint v) { Span<byte> s = stackalloc byte[4]; BinaryPrimitives.WriteUInt32LittleEndian(s, v); bytes.AddRange(s.ToArray()); }
        void Text(string s) { foreach (char c in s) { Word(c); } Word(0); }
        void Align() { while (bytes.Count % 4 != 0) { bytes.Add(0); } }
        void Item(uint style, int x, int y, int cx, int cy, int id, ushort windowClass, string text)
        {
            Align();
            Dword(WsChild | WsVisible | style);
            Dword(0);
            Word(x); Word(y); Word(cx); Word(cy); Word(id);
            Word(0xffff); Word(windowClass);
            Text(text);
            Word(0); // no creation data
        }

        Dword(WsPopup | WsCaption | WsSysMenu | DsModalFrame | DsSetFont | DsSetForeground | DsCenter);
        Dword(0);
        Word(4);
        Word(0); Word(0); Word(260); Word(78);
        Word(0); // no menu
        Word(0); // the standard dialog class
        Text(title);
        Word(9);
        Text("Segoe UI");
        Item(0, 8, 8, 244, 24, IdPrompt, StaticClass, prompt);
        Item(WsBorder | WsTabStop | EsPassword | EsAutoHScroll, 8, 34, 244, 14, IdPassword, EditClass, "");
        Item(WsTabStop | BsDefPushButton, 146, 56, 50, 14, IdOk, ButtonClass, "OK");
        Item(WsTabStop, 202, 56, 50, 14, IdCancel, ButtonClass, "Cancel");
        return [.. bytes];
    }

    [LibraryImport("user32.dll")]
    private static partial nint DialogBoxIndirectParamW(nint instance, byte* template, nint owner, nint dialogProc, nint initParam);

    [LibraryImport("user32.dll")]
    [return: MarshalAs(UnmanagedType.Bool)]
    private static partial bool EndDialog(nint dialog, nint result);

    [LibraryImport("user32.dll")]
    private static partial nint GetDlgItem(nint dialog, int id);

    [LibraryImport("user32.dll")]
    private static partial int GetDlgItemTextW(nint dialog, int id, char* text, int max);

    [LibraryImport("user32.dll")]
    private static partial nint SendDlgItemMessageW(nint dialog, int id, uint message, nint wParam, nint lParam);

    [LibraryImport("user32.dll")]
    private static partial nint SetFocus(nint window);

    [LibraryImport("kernel32.dll", StringMarshalling = StringMarshalling.Utf16)]
    private static partial nint GetModuleHandleW(string? name);
}
