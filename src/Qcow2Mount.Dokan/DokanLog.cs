using DokanNet.Logging;

namespace Qcow2Mount.Dokan;

/// <summary>
/// DokanNet's logger, forwarding errors to the adapter's log: DokanNet turns an exception that escapes a callback
/// into a status and reports it here, so this is where such a bug gets its log line.
/// </summary>
internal sealed class DokanLog(Action<string>? log) : ILogger
{
    public bool DebugEnabled => false;

    public void Debug(string message, params object[] args)
    {
    }

    public void Info(string message, params object[] args)
    {
    }

    public void Warn(string message, params object[] args) => Write("warning", message, args);

    public void Error(string message, params object[] args) => Write("error", message, args);

    public void Fatal(string message, params object[] args) => Write("fatal", message, args);

    private void Write(string level, string message, object[] args)
    {
        if (log is null)
        {
            return;
        }

        try
        {
            log($"Dokan {level}: {(args.Length == 0 ? message : string.Format(System.Globalization.CultureInfo.InvariantCulture, message, args))}");
        }
        catch (FormatException)
        {
            log($"Dokan {level}: {message}");
        }
    }
}
