namespace Qcow2Mount.Explorer;

/// <summary>
/// One string value under a Classes root (<c>HKCU\Software\Classes</c> or <c>HKLM\Software\Classes</c>).
/// <paramref name="Key"/> is relative to that root; an empty <paramref name="Name"/> is the key's default value.
/// </summary>
public sealed record RegistryValue(string Key, string Name, string Data);
