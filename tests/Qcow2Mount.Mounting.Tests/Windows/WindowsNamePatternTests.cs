using Qcow2Mount.Mounting.Windows;

namespace Qcow2Mount.Mounting.Tests.Windows;

internal sealed class WindowsNamePatternTests
{
    [TestCase("disk.raw", null, true)]
    [TestCase("disk.raw", "", true)]
    [TestCase("disk.raw", "*", true)]
    [TestCase("disk.raw", "*.raw", true)]
    [TestCase("disk.raw", "*.RAW", true)]
    [TestCase("DISK.RAW", "disk.raw", true)]
    [TestCase("disk.raw", "d*w", true)]
    [TestCase("disk.raw", "d??k.raw", true)]
    [TestCase("disk.raw", "d?k.raw", false)]
    [TestCase("disk.raw", "*.qcow2", false)]
    [TestCase("disk.raw", "disk", false)]
    [TestCase("disk.raw", "disk.raw?", false)]
    [TestCase("snapshots", "*.*", false)]
    [TestCase("a.b.raw", "*.raw", true)]
    [TestCase("a.b.raw", "<.raw", true)]
    [TestCase("snapshots", "<", true)]
    [TestCase("disk.raw", "<", false)]
    [TestCase("disk.raw", "disk>>>>.raw", true)]
    [TestCase("disk.raw", "dis>.raw", true)]
    [TestCase("disk.raw", "di>.raw", false)]
    [TestCase("snapshots", "snapshots\"", true)]
    [TestCase("disk.raw", "disk\"raw", true)]
    [TestCase("disk.raw", "disk\"", false)]
    [TestCase("snapshots", "<\"*", true)]
    public void Matches_like_windows(string name, string? pattern, bool expected)
    {
        Assert.That(WindowsNamePattern.IsMatch(name, pattern), Is.EqualTo(expected));
    }

    /// <summary>Backtracking matchers take exponential time here; the pattern comes from whoever lists the drive.</summary>
    [Test]
    public void Many_stars_against_a_long_name_answer_without_backtracking()
    {
        string name = new('a', 240);
        Assert.Multiple(() =>
        {
            Assert.That(WindowsNamePattern.IsMatch(name, string.Concat(Enumerable.Repeat("*a", 30)) + "*b"), Is.False);
            Assert.That(WindowsNamePattern.IsMatch(name, string.Concat(Enumerable.Repeat("<a", 30)) + "<"), Is.True);
            Assert.That(WindowsNamePattern.IsMatch(name + ".raw", string.Concat(Enumerable.Repeat("*a", 30)) + "*.RAW"), Is.True);
        });
    }

    /// <summary>The matcher agrees with a direct transcription of the rules on every short name and pattern tried.</summary>
    [Test]
    public void Agrees_with_a_backtracking_reference_on_random_short_inputs()
    {
        var random = new Random(3);
        const string nameChars = "ab.", patternChars = "ab.*?<>\"";
        for (int i = 0; i < 20000; i++)
        {
            string name = new(Enumerable.Range(0, random.Next(0, 8)).Select(_ => nameChars[random.Next(nameChars.Length)]).ToArray());
            string pattern = new(Enumerable.Range(0, random.Next(1, 7)).Select(_ => patternChars[random.Next(patternChars.Length)]).ToArray());
            if (pattern == "*")
            {
                continue;
            }

            Assert.That(WindowsNamePattern.IsMatch(name, pattern), Is.EqualTo(Reference(pattern, 0, name, 0)), $"name '{name}', pattern '{pattern}'");
        }
    }

    private static bool Reference(string pattern, int p, string name, int n)
    {
        if (p == pattern.Length)
        {
            return n == name.Length;
        }

        int lastDot = name.LastIndexOf('.');
        return pattern[p] switch
        {
            '*' => Enumerable.Range(n, name.Length - n + 1).Any(k => Reference(pattern, p + 1, name, k)),
            '<' => Enumerable.Range(n, (lastDot >= n ? lastDot : name.Length) - n + 1).Any(k => Reference(pattern, p + 1, name, k)),
            '>' => Reference(pattern, p + 1, name, n < name.Length && name[n] != '.' ? n + 1 : n),
            '"' => n < name.Length ? name[n] == '.' && Reference(pattern, p + 1, name, n + 1) : Reference(pattern, p + 1, name, n),
            '?' => n < name.Length && Reference(pattern, p + 1, name, n + 1),
            _ => n < name.Length && char.ToUpperInvariant(pattern[p]) == char.ToUpperInvariant(name[n]) && Reference(pattern, p + 1, name, n + 1),
        };
    }
}
