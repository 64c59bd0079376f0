using Qcow2Mount.Control.Protocol;
using Qcow2Mount.Explorer;

namespace Qcow2Mount.Launcher;

/// <summary>What one Explorer verb asks for: mount an image in a mode (a <see cref="ControlMountModes"/> value), or unmount it.</summary>
internal sealed record LaunchRequest(bool Unmount, string? Mode, string ImagePath)
{
    /// <summary>
    /// Parses exactly the command lines <see cref="ExplorerRegistration.Verbs"/> registers: the verb's arguments,
    /// then the image path. Anything else is null (the launcher is not a second CLI).
    /// </summary>
    public static LaunchRequest? Parse(IReadOnlyList<string> args)
    {
        if (args.Count < 2 || string.IsNullOrWhiteSpace(args[^1]))
        {
            return null;
        }

        string verbArguments = string.Join(' ', args.Take(args.Count - 1));
        var verb = ExplorerRegistration.Verbs.FirstOrDefault(v => v.Arguments == verbArguments);
        if (verb is null)
        {
            return null;
        }

        string image = args[^1];
        return verb.Id switch
        {
            "mount" => new LaunchRequest(false, ControlMountModes.ReadOnly, image),
            "mountwritable" => new LaunchRequest(false, ControlMountModes.Writable, image),
            "mountoverlay" => new LaunchRequest(false, ControlMountModes.Overlay, image),
            "unmount" => new LaunchRequest(true, null, image),
            _ => throw new InvalidOperationException($"the verb '{verb.Id}' has no launcher action"),
        };
    }

    public const string Usage = "usage: qcow2mountw mount [--writable | --overlay] IMAGE | unmount IMAGE (Explorer runs this for .qcow2 files)";
}
