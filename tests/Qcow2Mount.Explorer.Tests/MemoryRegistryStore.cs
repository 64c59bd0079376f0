namespace Qcow2Mount.Explorer.Tests;

/// <summary>A registry root in memory, with the Windows rules registration depends on: names without case, keys with parents.</summary>
internal sealed class MemoryRegistryStore : IRegistryStore
{
    private readonly SortedDictionary<string, Dictionary<string, string>> keys = new(StringComparer.OrdinalIgnoreCase);

    public IEnumerable<string> KeyNames => keys.Keys;

    public string? GetString(string key, string name) =>
        keys.TryGetValue(key, out var values) && values.TryGetValue(name, out var data) ? data : null;

    public void SetString(string key, string name, string data)
    {
        // Creating a key creates its parents, as RegistryKey.CreateSubKey does.
        for (int at = key.IndexOf('\\'); at >= 0; at = key.IndexOf('\\', at + 1))
        {
            Create(key[..at]);
        }

        Create(key)[name] = data;
    }

    public void DeleteValue(string key, string name)
    {
        if (keys.TryGetValue(key, out var values))
        {
            values.Remove(name);
        }
    }

    public bool IsEmpty(string key) =>
        keys.TryGetValue(key, out var values) && values.Count == 0 && !HasSubkeys(key);

    public void DeleteKey(string key)
    {
        if (HasSubkeys(key))
        {
            throw new InvalidOperationException($"{key} has subkeys");
        }

        keys.Remove(key);
    }

    private bool HasSubkeys(string key) => keys.Keys.Any(k => k.StartsWith(key + "\\", StringComparison.OrdinalIgnoreCase));

    private Dictionary<string, string> Create(string key)
    {
        if (!keys.TryGetValue(key, out var values))
        {
            values = new Dictionary<string, string>(StringComparer.OrdinalIgnoreCase);
            keys[key] = values;
        }

        return values;
    }
}
