namespace Qcow2Mount.Explorer.Tests;

internal class RegistrationWriterTests
{
    private const string Folder = @"C:\Tools\Qcow2Mount\";

    [Test]
    public void Register_writes_every_value_of_the_definition()
    {
        var store = new MemoryRegistryStore();
        var writer = new RegistrationWriter(store);
        writer.Register(Folder);
        Assert.That(writer.IsRegistered(Folder), Is.True);
        foreach (var value in ExplorerRegistration.Values(Folder))
        {
            Assert.That(store.GetString(value.Key, value.Name), Is.EqualTo(value.Data), $@"{value.Key}\{value.Name}");
        }
    }

    [Test]
    public void Unregister_leaves_an_empty_root_when_nothing_else_was_there()
    {
        var store = new MemoryRegistryStore();
        var writer = new RegistrationWriter(store);
        writer.Register(Folder);
        writer.Unregister();
        Assert.That(store.KeyNames, Is.Empty);
        Assert.That(writer.IsRegistered(Folder), Is.False);
    }

    [Test]
    public void Unregister_keeps_what_other_programs_wrote_under_qcow2()
    {
        var store = new MemoryRegistryStore();
        store.SetString(@".qcow2\OpenWithProgids", "Other.Viewer", "");
        store.SetString(".qcow2", "Content Type", "application/x-qemu-disk");
        var writer = new RegistrationWriter(store);
        writer.Register(Folder);
        writer.Unregister();
        Assert.Multiple(() =>
        {
            Assert.That(store.GetString(@".qcow2\OpenWithProgids", "Other.Viewer"), Is.EqualTo(""));
            Assert.That(store.GetString(@".qcow2\OpenWithProgids", "Qcow2Mount.Image"), Is.Null);
            Assert.That(store.GetString(".qcow2", "Content Type"), Is.EqualTo("application/x-qemu-disk"));
            Assert.That(store.GetString(".qcow2", ""), Is.Null);
            Assert.That(store.KeyNames, Is.EquivalentTo(new[] { ".qcow2", @".qcow2\OpenWithProgids" }));
        });
    }

    [Test]
    public void Unregister_leaves_the_default_program_another_program_took_over()
    {
        var store = new MemoryRegistryStore();
        var writer = new RegistrationWriter(store);
        writer.Register(Folder);
        store.SetString(".qcow2", "", "Other.Viewer");
        writer.Unregister();
        Assert.That(store.GetString(".qcow2", ""), Is.EqualTo("Other.Viewer"));
        Assert.That(store.KeyNames, Is.EquivalentTo(new[] { ".qcow2" }));
    }

    [Test]
    public void Unregister_without_a_registration_changes_nothing_and_does_not_fail()
    {
        var store = new MemoryRegistryStore();
        store.SetString(".vhdx", "", "Windows.VhdFile");
        new RegistrationWriter(store).Unregister();
        Assert.That(store.KeyNames, Is.EquivalentTo(new[] { ".vhdx" }));
    }

    [Test]
    public void Registering_again_from_another_folder_moves_the_commands()
    {
        var store = new MemoryRegistryStore();
        var writer = new RegistrationWriter(store);
        writer.Register(Folder);
        writer.Register(@"D:\Portable\");
        Assert.That(writer.IsRegistered(@"D:\Portable\"), Is.True);
        Assert.That(writer.IsRegistered(Folder), Is.False);
    }
}
