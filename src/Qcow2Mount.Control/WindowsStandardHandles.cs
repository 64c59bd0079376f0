using System.Runtime.InteropServices;
using System.Runtime.Versioning;

namespace Qcow2Mount.Control;

/// <summary>
/// Keeps this process's standard handles out of the processes it starts. On Windows, starting a process with
/// redirected output inherits every inheritable handle, and the standard handles a caller gives a console program
/// are inheritable: a service started by the CLI would hold the CLI's output pipe for its whole life, so a script
/// reading <c>qcow2mount mount ...</c> output would wait until the service exits.
/// </summary>
[SupportedOSPlatform("windows")]
internal static partial class WindowsStandardHandles
{
    private const int StdInput = -10;
    private const int StdOutput = -11;
    private const int StdError = -12;
    private const uint HandleFlagInherit = 1;

    /// <summary>Clears the inherit flag of standard input, output and error (this process keeps using them).</summary>
    public static void KeepFromChildren()
    {
        foreach (int id in new[] { StdInput, StdOutput, StdError })
        {
            nint handle = GetStdHandle(id);
            if (handle != 0 && handle != -1)
            {
                // A handle that cannot change (a console in some hosts) is left alone: nothing better to do.
                _ = SetHandleInformation(handle, HandleFlagInherit, 0);
            }
        }
    }

    [LibraryImport("kernel32.dll", SetLastError = true)]
    private static partial nint GetStdHandle(int nStdHandle);

    [LibraryImport("kernel32.dll", SetLastError = true)]
    [return: MarshalAs(UnmanagedType.Bool)]
    private static partial bool SetHandleInformation(nint hObject, uint dwMask, uint dwFlags);
}
