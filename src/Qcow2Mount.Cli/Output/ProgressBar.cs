using System.Globalization;
using Qcow2Mount.Operations;

namespace Qcow2Mount.Cli.Output;

/// <summary>
/// A one-line progress bar redrawn in place with carriage returns; meant for a terminal's stderr. Reports arrive
/// on the operation's threads and are drawn at once (not posted elsewhere), so the bar is never behind.
/// </summary>
internal sealed class ProgressBar(TextWriter terminal) : IProgress<OperationProgress>
{
    private const int Width = 40;
    private readonly Lock _drawing = new();
    private int _lastPermille = -1;

    /// <summary>A bar on <paramref name="error"/> when asked for, or when it is the real terminal; otherwise none.</summary>
    public static ProgressBar? For(TextWriter error, bool asked) =>
        asked || (ReferenceEquals(error, Console.Error) && !Console.IsErrorRedirected) ? new ProgressBar(error) : null;

    public void Report(OperationProgress value)
    {
        int permille = (int)(value.Fraction * 1000);
        lock (_drawing)
        {
            if (permille == _lastPermille)
            {
                return;
            }

            _lastPermille = permille;
            int filled = permille * Width / 1000;
            string percent = (permille / 10.0).ToString("0.0", CultureInfo.InvariantCulture);
            terminal.Write($"\r    [{new string('#', filled)}{new string('.', Width - filled)}] {percent,5}%");
            terminal.Flush();
        }
    }

    /// <summary>Ends the bar's line (the operation's last report drew it at 100%).</summary>
    public void Finish()
    {
        lock (_drawing)
        {
            terminal.WriteLine();
        }
    }
}
