namespace Qcow2Mount.Explorer;

/// <summary>The few registry operations registration needs, under one root (a Classes key); keys are relative to it.</summary>
public interface IRegistryStore
{
    /// <summary>The string value, or null when the key or the value does not exist.</summary>
    string? GetString(string key, string name);

    /// <summary>Writes a string value, creating the key and its parents as needed.</summary>
    void SetString(string key, string name, string data);

    /// <summary>Deletes the value when it exists.</summary>
    void DeleteValue(string key, string name);

    /// <summary>Whether the key exists and has neither values (a default value counts) nor subkeys.</summary>
    bool IsEmpty(string key);

    /// <summary>Deletes a key that has no subkeys.</summary>
    void DeleteKey(string key);
}
