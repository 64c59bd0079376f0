namespace Qcow2Mount.Cli;

internal static class Program
{
    // The command tree is built in CommandLine.cs; Main only runs it.
    private static int Main(string[] args) => 0;
}
