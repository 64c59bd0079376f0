namespace Qcow2Mount.Explorer.Tests;

internal class PathListTests
{
    private const string Windows = @"%SystemRoot%\system32;%SystemRoot%";
    private const string Ours = @"C:\Program Files\Qcow2Mount\";

    [Test]
    public void Add_appends_our_folder_once_and_keeps_the_rest_as_it_was()
    {
        string added = PathList.Add(Windows, Ours);
        Assert.That(added, Is.EqualTo(Windows + @";C:\Program Files\Qcow2Mount"));
        Assert.That(PathList.Add(added, Ours), Is.EqualTo(added));
        Assert.That(PathList.Add(added, @"c:\program files\qcow2mount"), Is.EqualTo(added), "Windows paths ignore case");
    }

    [Test]
    public void Add_to_an_empty_or_missing_value_and_to_one_ending_with_a_separator()
    {
        Assert.That(PathList.Add(null, Ours), Is.EqualTo(@"C:\Program Files\Qcow2Mount"));
        Assert.That(PathList.Add("", Ours), Is.EqualTo(@"C:\Program Files\Qcow2Mount"));
        Assert.That(PathList.Add(Windows + ";", Ours), Is.EqualTo(Windows + @";C:\Program Files\Qcow2Mount"));
    }

    [Test]
    public void Remove_takes_out_only_our_folder_in_any_spelling()
    {
        string path = @"C:\A;C:\Program Files\Qcow2Mount\;C:\B;""c:\program files\qcow2mount"";C:\Program Files\Qcow2Mount Tools";
        Assert.That(PathList.Remove(path, Ours), Is.EqualTo(@"C:\A;C:\B;C:\Program Files\Qcow2Mount Tools"));
    }

    [Test]
    public void Remove_of_a_folder_that_is_not_there_changes_nothing()
    {
        Assert.That(PathList.Remove(Windows, Ours), Is.EqualTo(Windows));
        Assert.That(PathList.Remove(null, Ours), Is.EqualTo(""));
    }

    [Test]
    public void Add_then_remove_gives_back_the_original_value() =>
        Assert.That(PathList.Remove(PathList.Add(Windows, Ours), Ours), Is.EqualTo(Windows));
}
