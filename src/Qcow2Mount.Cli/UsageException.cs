namespace Qcow2Mount.Cli;

/// <summary>A command-line value that parsed but makes no sense (bad size suffix, unknown -o key): exit code 1.</summary>
internal sealed class UsageException : Exception
{
    public UsageException()
    {
    }

    public UsageException(string message)
        : base(message)
    {
    }

    public UsageException(string message, Exception innerException)
        : base(message, innerException)
    {
    }
}
