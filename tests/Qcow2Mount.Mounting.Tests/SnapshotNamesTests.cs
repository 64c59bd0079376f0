namespace Qcow2Mount.Mounting.Tests;

internal sealed class SnapshotNamesTests
{
    [TestCase("base", "base.raw")]
    [TestCase("a/b\\c:d*e?f\"g<h>i|j", "a_b_c_d_e_f_g_h_i_j.raw")]
    [TestCase("tab\there", "tab_here.raw")]
    [TestCase("trailing dots...", "trailing dots.raw")]
    [TestCase("  spaced  ", "spaced.raw")]
    [TestCase("", "snapshot.raw")]
    [TestCase("...", "snapshot.raw")]
    [TestCase("CON", "_CON.raw")]
    [TestCase("com1", "_com1.raw")]
    [TestCase("nul.txt", "_nul.txt.raw")]
    [TestCase("CONSOLE", "CONSOLE.raw")]
    [TestCase("über-äpfel", "über-äpfel.raw")]
    public void Names_become_file_names_valid_on_windows_and_linux(string name, string expected)
    {
        Assert.That(SnapshotNames.ToFileNames([name]), Is.EqualTo(new[] { expected }));
    }

    [Test]
    public void Names_that_clash_after_sanitizing_or_by_case_get_numbered()
    {
        var names = SnapshotNames.ToFileNames(["a:b", "a?b", "Base", "base", "a_b"]);

        Assert.That(names, Is.EqualTo(new[] { "a_b.raw", "a_b~2.raw", "Base.raw", "base~2.raw", "a_b~3.raw" }));
    }

    [Test]
    public void Long_names_fit_linux_255_byte_limit_even_in_multibyte_scripts()
    {
        var names = SnapshotNames.ToFileNames([new string('x', 400), new string('ü', 400), new string('ü', 400)]);

        Assert.Multiple(() =>
        {
            Assert.That(names.Select(n => System.Text.Encoding.UTF8.GetByteCount(n)), Has.All.LessThanOrEqualTo(255));
            Assert.That(names.Distinct(StringComparer.OrdinalIgnoreCase).Count(), Is.EqualTo(3));
            Assert.That(names, Has.All.EndsWith(".raw"));
        });
    }

    [Test]
    public void Volume_uses_the_sanitized_unique_names()
    {
        using var volume = new Volume(new Doubles.MemoryDisk(new byte[512]), null,
        [
            new SnapshotDisk("x/y", new Doubles.MemoryDisk(new byte[512])),
            new SnapshotDisk("x:y", new Doubles.MemoryDisk(new byte[1024])),
        ]);

        Assert.That(volume.List("/snapshots").Select(n => (n.Name, n.Length)),
            Is.EqualTo(new[] { ("x_y.raw", 512L), ("x_y~2.raw", 1024L) }));
    }
}
