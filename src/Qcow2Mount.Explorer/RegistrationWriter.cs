namespace Qcow2Mount.Explorer;

/// <summary>
/// Writes <see cref="ExplorerRegistration"/> under one Classes root and removes exactly what it wrote: our values,
/// then our keys once nothing of anyone else's is left in them. The <c>.qcow2</c> default value is another
/// program's once it names another ProgID, so it stays.
/// </summary>
public sealed class RegistrationWriter(IRegistryStore store)
{
    public void Register(string installDirectory)
    {
        foreach (var value in ExplorerRegistration.Values(installDirectory))
        {
            store.SetString(value.Key, value.Name, value.Data);
        }
    }

    public void Unregister()
    {
        // The install directory changes no key or value name: any placeholder lists them.
        const string anyDirectory = @"C:\";
        foreach (var value in ExplorerRegistration.Values(anyDirectory))
        {
            bool shared = value.Key.Equals(ExplorerRegistration.Extension, StringComparison.OrdinalIgnoreCase) && value.Name.Length == 0;
            if (shared && !string.Equals(store.GetString(value.Key, value.Name), value.Data, StringComparison.OrdinalIgnoreCase))
            {
                continue;
            }

            store.DeleteValue(value.Key, value.Name);
        }

        foreach (var key in ExplorerRegistration.Keys(anyDirectory))
        {
            if (store.IsEmpty(key))
            {
                store.DeleteKey(key);
            }
        }
    }

    /// <summary>Whether every value of the registration is in place for <paramref name="installDirectory"/>.</summary>
    public bool IsRegistered(string installDirectory) =>
        ExplorerRegistration.Values(installDirectory).All(v => store.GetString(v.Key, v.Name) == v.Data);
}
