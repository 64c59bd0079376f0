using System.Reflection;

namespace Qcow2Mount.Control;

/// <summary>
/// The version of this build, as the service reports it in <c>status</c> and as clients compare it with theirs: the
/// informational version, <c>0.1.0+&lt;commit&gt;</c>. Every assembly of one build carries the same one (the version
/// is set in Directory.Build.props, the SDK appends the commit), so this assembly's stands for the whole build, and
/// service and CLI read it from the same place.
/// </summary>
public static class BuildVersion
{
    public static string Current { get; } =
        typeof(BuildVersion).Assembly.GetCustomAttribute<AssemblyInformationalVersionAttribute>()?.InformationalVersion ?? "";
}
