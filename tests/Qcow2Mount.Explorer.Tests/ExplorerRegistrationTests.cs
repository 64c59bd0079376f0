using Qcow2Mount.Launcher;

namespace Qcow2Mount.Explorer.Tests;

internal class ExplorerRegistrationTests
{
    private const string Folder = @"C:\Program Files\Qcow2Mount\";

    [Test]
    public void Double_click_runs_the_read_only_mount()
    {
        var values = ExplorerRegistration.Values(Folder);
        Assert.Multiple(() =>
        {
            Assert.That(Data(values, ".qcow2", ""), Is.EqualTo("Qcow2Mount.Image"));
            Assert.That(Data(values, @"Qcow2Mount.Image\shell", ""), Is.EqualTo("mount"));
            Assert.That(Data(values, @"Qcow2Mount.Image\shell\mount\command", ""),
                Is.EqualTo("\"C:\\Program Files\\Qcow2Mount\\qcow2mountw.exe\" mount \"%1\""));
            Assert.That(Data(values, @".qcow2\OpenWithProgids", "Qcow2Mount.Image"), Is.EqualTo(""));
            Assert.That(Data(values, @"Qcow2Mount.Image\DefaultIcon", ""), Is.EqualTo(@"C:\Program Files\Qcow2Mount\qcow2-file.ico"));
        });
    }

    [Test]
    public void Every_verb_has_a_menu_text_and_a_command_that_quotes_the_launcher_and_the_file()
    {
        var values = ExplorerRegistration.Values(Folder);
        Assert.That(ExplorerRegistration.Verbs.Select(v => v.Id), Is.EquivalentTo(new[] { "mount", "mountwritable", "mountoverlay", "unmount" }));
        foreach (var verb in ExplorerRegistration.Verbs)
        {
            string command = Data(values, $@"Qcow2Mount.Image\shell\{verb.Id}\command", "");
            Assert.That(command, Does.StartWith("\"C:\\Program Files\\Qcow2Mount\\qcow2mountw.exe\" ").And.EndWith(" \"%1\""), verb.Id);
            Assert.That(Data(values, $@"Qcow2Mount.Image\shell\{verb.Id}", "MUIVerb"), Is.EqualTo(verb.Text));
        }
    }

    [Test]
    public void Every_registered_command_line_is_one_the_launcher_accepts_with_its_meaning()
    {
        string image = @"D:\VMs\my disk.qcow2";
        var parsed = ExplorerRegistration.Verbs.ToDictionary(v => v.Id, v => LaunchRequest.Parse(CommandLine(v, image)));
        Assert.Multiple(() =>
        {
            Assert.That(parsed["mount"], Is.EqualTo(new LaunchRequest(false, "readonly", image)));
            Assert.That(parsed["mountwritable"], Is.EqualTo(new LaunchRequest(false, "writable", image)));
            Assert.That(parsed["mountoverlay"], Is.EqualTo(new LaunchRequest(false, "overlay", image)));
            Assert.That(parsed["unmount"], Is.EqualTo(new LaunchRequest(true, null, image)));
        });
    }

    [TestCase]
    [TestCase("mount")]
    [TestCase("mount", "--snapshot", "x.qcow2")]
    [TestCase("serve", "x.qcow2")]
    [TestCase("mount", "")]
    public void The_launcher_refuses_what_no_verb_registers(params string[] args) =>
        Assert.That(LaunchRequest.Parse(args), Is.Null);

    [Test]
    public void Values_and_keys_are_unique_and_keys_come_deepest_first()
    {
        var values = ExplorerRegistration.Values(Folder);
        Assert.That(values.Select(v => (v.Key.ToUpperInvariant(), v.Name.ToUpperInvariant())), Is.Unique);
        var keys = ExplorerRegistration.Keys(Folder);
        for (int i = 0; i < keys.Count; i++)
        {
            Assert.That(keys.Skip(i + 1).Any(k => k.StartsWith(keys[i] + "\\", StringComparison.OrdinalIgnoreCase)), Is.False,
                $"{keys[i]} is listed before one of its subkeys");
        }
    }

    [Test]
    public void A_folder_without_its_trailing_backslash_is_refused() =>
        Assert.That(() => ExplorerRegistration.Values(@"C:\Qcow2Mount"), Throws.ArgumentException);

    [Test]
    public void The_next_free_drive_letter_counts_down_from_Z()
    {
        Assert.That(DriveLetters.NextFree([@"C:\", @"Z:\"]), Is.EqualTo(@"Y:\"));
        Assert.That(DriveLetters.NextFree([]), Is.EqualTo(@"Z:\"));
        var all = Enumerable.Range('D', 23).Select(c => $"{(char)c}:\\");
        Assert.That(() => DriveLetters.NextFree(all), Throws.InstanceOf<IOException>().With.Message.Contains("every drive letter"));
    }

    private static string Data(IReadOnlyList<RegistryValue> values, string key, string name) =>
        values.Single(v => v.Key == key && v.Name == name).Data;

    /// <summary>What Explorer passes: the command's words after the executable, %1 replaced by the file.</summary>
    private static string[] CommandLine(ExplorerVerb verb, string image) => [.. verb.Arguments.Split(' '), image];
}
