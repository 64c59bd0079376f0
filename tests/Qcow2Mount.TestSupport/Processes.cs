namespace Qcow2Mount.TestSupport;

public static class Processes
{
    /// <summary>Alive, and not a zombie waiting for its parent (the test, which started it) to reap it.</summary>
    public static bool IsRunning(int pid)
    {
        try
        {
            string stat = File.ReadAllText($"/proc/{pid}/stat");
            return stat[(stat.LastIndexOf(')') + 2)..][0] != 'Z';
        }
        catch (IOException)
        {
            return false;
        }
    }
}
