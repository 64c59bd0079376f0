namespace Qcow2Mount.TestSupport;

/// <summary>
/// A fresh folder under <c>{temp}/qcow2mount-tests</c>, deleted (best effort) on dispose.
/// Set <see cref="Keep"/> to look at the files after a failure.
/// </summary>
public sealed class TempDir : IDisposable
{
    public TempDir(string? prefix = null)
    {
        Path = System.IO.Path.Combine(RootPath, $"{prefix ?? "t"}-{Guid.NewGuid():N}");
        Directory.CreateDirectory(Path);
    }

    /// <summary>The folder all test temp folders live in.</summary>
    public static string RootPath => System.IO.Path.Combine(System.IO.Path.GetTempPath(), "qcow2mount-tests");

    /// <summary>The full path of this folder.</summary>
    public string Path { get; }

    /// <summary>Leave the folder on disk when disposed.</summary>
    public bool Keep { get; set; }

    /// <summary>A path inside this folder (nothing is created).</summary>
    public string Combine(params string[] parts) => System.IO.Path.Combine([Path, .. parts]);

    public override string ToString() => Path;

    public void Dispose()
    {
        if (Keep || !Directory.Exists(Path))
        {
            return;
        }

        // A just-closed handle (antivirus, a FUSE mount winding down) can hold a file for a moment.
        for (var attempt = 0; ; attempt++)
        {
            try
            {
                Directory.Delete(Path, recursive: true);
                return;
            }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException && attempt < 5)
            {
                Thread.Sleep(100 * (attempt + 1));
            }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException)
            {
                return; // leaving a temp folder behind must not fail a test
            }
        }
    }
}
