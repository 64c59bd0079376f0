using Qcow2Mount.Qcow2;

namespace Qcow2Mount.Cli;

/// <summary>A command-line value that parsed but makes no sense (bad size suffix, depth 0): exit code 1.</summary>
internal sealed class UsageException(string message) : Exception(message);

/// <summary>Errors the front end raises itself, expressed with the engine's codes so one table maps them all.</summary>
internal static class CliErrors
{
    public static Qcow2Exception NotSupportedYet(string what) => new(Qcow2ErrorCode.Unsupported, $"{what}: not supported yet");
}
