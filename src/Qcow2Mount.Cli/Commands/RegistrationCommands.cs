using System.CommandLine;
using Qcow2Mount.Explorer;

namespace Qcow2Mount.Cli.Commands;

/// <summary>
/// <c>register</c> and <c>unregister</c>: the Explorer verbs for .qcow2 files without the installer (zip installs),
/// the same keys the MSI writes (<see cref="ExplorerRegistration"/>). The hidden <c>path add|remove</c> is the MSI's
/// custom action for the machine PATH entry.
/// </summary>
internal static class RegistrationCommands
{
    public static IEnumerable<Command> Create()
    {
        yield return Register();
        yield return Unregister();
        yield return MachinePathCommand();
    }

    private static Command Register()
    {
        var (user, machine) = ScopeOptions();
        var command = new Command("register", "Windows: double-click mounts .qcow2 files; right-click offers writable, overlay and unmount")
        {
            user, machine,
        };
        command.SetAction(parse =>
        {
            if (!OperatingSystem.IsWindows())
            {
                throw WindowsOnly();
            }

            var scope = Scope(parse.GetValue(user), parse.GetValue(machine));
            string folder = InstallFolder();
            if (!File.Exists(Path.Combine(folder, ExplorerRegistration.LauncherFileName)))
            {
                parse.InvocationConfiguration.Error.WriteLine(
                    $"{Cli.Name}: warning: {ExplorerRegistration.LauncherFileName} is not beside {Cli.Name} in {folder}; the verbs will not run until it is");
            }

            using var store = new Win32RegistryStore(scope);
            new RegistrationWriter(store).Register(folder);
            ShellNotifications.AssociationsChanged();
            parse.InvocationConfiguration.Output.WriteLine($"registered {ExplorerRegistration.Extension} files ({Describe(scope)}) to {folder}{ExplorerRegistration.LauncherFileName}");
            return ExitCodes.Success;
        });
        return command;
    }

    private static Command Unregister()
    {
        var (user, machine) = ScopeOptions();
        var command = new Command("unregister", "Windows: remove what register wrote") { user, machine };
        command.SetAction(parse =>
        {
            if (!OperatingSystem.IsWindows())
            {
                throw WindowsOnly();
            }

            var scope = Scope(parse.GetValue(user), parse.GetValue(machine));
            using var store = new Win32RegistryStore(scope);
            new RegistrationWriter(store).Unregister();
            ShellNotifications.AssociationsChanged();
            parse.InvocationConfiguration.Output.WriteLine($"unregistered {ExplorerRegistration.Extension} files ({Describe(scope)})");
            return ExitCodes.Success;
        });
        return command;
    }

    private static Command MachinePathCommand()
    {
        var action = new Argument<string>("ACTION") { Description = "add or remove" }.AcceptOnlyFromAmong("add", "remove");
        var folder = new Argument<string?>("FOLDER") { Description = "The folder (default: this program's)", Arity = ArgumentArity.ZeroOrOne };
        var command = new Command("path", "Windows: add this program's folder to the machine PATH, or remove it (the installer runs this)")
        {
            action, folder,
        };
        command.Hidden = true;
        command.SetAction(parse =>
        {
            if (!OperatingSystem.IsWindows())
            {
                throw WindowsOnly();
            }

            string target = parse.GetValue(folder) ?? InstallFolder();
            if (parse.GetValue(action) == "add")
            {
                MachinePath.Add(target);
            }
            else
            {
                MachinePath.Remove(target);
            }

            return ExitCodes.Success;
        });
        return command;
    }

    private static (Option<bool> User, Option<bool> Machine) ScopeOptions() =>
        (new Option<bool>("--user") { Description = @"For the current user, under HKCU\Software\Classes (the default)" },
         new Option<bool>("--machine") { Description = @"For every user, under HKLM\Software\Classes (run as administrator)" });

    private static RegistrationScope Scope(bool user, bool machine)
    {
        if (user && machine)
        {
            throw new UsageException("choose one of --user and --machine");
        }

        return machine ? RegistrationScope.Machine : RegistrationScope.User;
    }

    private static string Describe(RegistrationScope scope) =>
        scope == RegistrationScope.Machine ? @"HKLM\Software\Classes" : @"HKCU\Software\Classes";

    /// <summary>The folder of this executable, with the trailing backslash the registration's commands expect.</summary>
    private static string InstallFolder()
    {
        string folder = AppContext.BaseDirectory;
        return folder.EndsWith('\\') ? folder : folder + '\\';
    }

    private static UsageException WindowsOnly() => new("register, unregister and path work on Windows only");
}
