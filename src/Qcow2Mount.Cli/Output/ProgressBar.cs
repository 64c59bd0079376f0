using System.Globalization;

namespace Qcow2Mount.Cli.Output;

/// <summary>A one-line progress bar redrawn in place with carriage returns; meant for a terminal's stderr.</summary>
internal sealed class ProgressBar(TextWriter terminal, long total)
{
    private const int Width = 40;
    private int _lastPermille = -1;

    public void Report(long done)
    {
        int permille = total == 0 ? 1000 : (int)(done * 1000 / total);
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

    public void Finish()
    {
        Report(total);
        terminal.WriteLine();
    }
}
