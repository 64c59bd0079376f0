using System.CommandLine;
using System.Globalization;
using Qcow2Mount.Cli.Hosting;
using Qcow2Mount.Cli.Output;
using Qcow2Mount.Cli.Prompts;
using Qcow2Mount.Control;
using Qcow2Mount.Control.Protocol;
using Qcow2Mount.Mounting;
using Qcow2Mount.Operations;
using Qcow2Mount.Service.Configuration;
using Qcow2Mount.Service.Hosting;
using Qcow2Mount.Service.Mounts;

namespace Qcow2Mount.Cli.Commands;

/// <summary>
/// <c>mount</c>, <c>unmount</c>, <c>list</c>, <c>status</c>, <c>stop</c>, <c>serve</c> and <c>config</c>: thin clients
/// of the mount service (started on demand), or with <c>--foreground</c> a mount in this process.
/// </summary>
internal static class MountCommands
{
    public static IEnumerable<Command> Create()
    {
        yield return Mount();
        yield return Unmount();
        yield return List();
        yield return Status();
        yield return Stop();
        yield return Serve();
        yield return Config();
    }

    private static Command Mount()
    {
        var image = CommonOptions.Image(description: "qcow2 image to mount");
        var mountPoint = new Argument<string?>("MOUNTPOINT")
        {
            Description = "Empty directory where disk.raw appears (Windows: a drive letter such as M:, an empty NTFS folder, or nothing for the next free letter)",
            Arity = ArgumentArity.ZeroOrOne,
        };
        var readOnly = new Option<bool>("--read-only") { Description = "Read-only (the default): the image's bytes never change" };
        var writable = new Option<bool>("--writable") { Description = "Writes go into the image (lazy refcounts; flushed on fsync and unmount)" };
        var overlay = new Option<string?>("--overlay")
        {
            Description = "Writes go into a new qcow2 overlay backed by the untouched image (PATH optional; removed on unmount)",
            Arity = ArgumentArity.ZeroOrOne,
        };
        var keepOverlay = new Option<bool>("--keep-overlay") { Description = "Keep the overlay after unmount" };
        var snapshot = CommonOptions.Snapshot("Mount this internal snapshot (read-only) as disk.raw");
        var foreground = new Option<bool>("--foreground") { Description = "Mount in this process without the service; Ctrl+C unmounts" };
        var forceShare = new Option<bool>("--force-share", "-U")
        {
            Description = "Mount even while QEMU writes the image (a running VM), as qemu-img -U; reads may then be inconsistent",
        };
        var passwordFile = CommonOptions.PasswordFile();
        var command = new Command("mount", "Mount an image: its guest bytes appear as MOUNTPOINT/disk.raw")
        {
            image, mountPoint, readOnly, writable, overlay, keepOverlay, snapshot, forceShare, passwordFile, foreground,
        };
        command.SetAction(async (parse, cancel) =>
        {
            var output = parse.InvocationConfiguration.Output;
            var error = parse.InvocationConfiguration.Error;
            bool overlayGiven = parse.GetResult(overlay) is not null;
            int modes = (parse.GetValue(readOnly) ? 1 : 0) + (parse.GetValue(writable) ? 1 : 0) + (overlayGiven ? 1 : 0)
                + (parse.GetValue(snapshot) is null ? 0 : 1);
            if (modes > 1)
            {
                throw new UsageException("choose one of --read-only, --writable, --overlay and --snapshot");
            }

            MountMode? mode = parse.GetValue(writable) ? MountMode.Writable : overlayGiven ? MountMode.Overlay
                : parse.GetValue(snapshot) is not null ? MountMode.Snapshot : parse.GetValue(readOnly) ? MountMode.ReadOnly : null;
            var request = new MountImageOptions
            {
                Image = Path.GetFullPath(parse.GetValue(image)!),
                MountPoint = parse.GetValue(mountPoint) is { } given ? given
                    : OperatingSystem.IsWindows() ? "*" : throw new UsageException("name the MOUNTPOINT: an empty directory where disk.raw appears"),
                Mode = mode,
                Snapshot = parse.GetValue(snapshot),
                OverlayPath = parse.GetValue(overlay) is { } path ? Path.GetFullPath(path) : null,
                KeepOverlay = parse.GetValue(keepOverlay),
                ForceShare = parse.GetValue(forceShare),
                Passwords = new CliPasswords(parse.GetValue(passwordFile), error),
            };
            if (parse.GetValue(foreground))
            {
                await MountInThisProcessAsync(request, info => output.WriteLine($"{Describe(info)} (Ctrl+C to unmount)"), cancel);
                return ExitCodes.Success;
            }

            var client = new MountClient(new MountClientOptions
            {
                KeptOtherVersion = service => error.WriteLine(
                    $"{Cli.Name}: warning: the running service (pid {service.ProcessId}) is version {service.Version}, this command is version "
                    + $"{BuildVersion.Current}; it keeps serving until it is stopped ('{Cli.Name} stop' unmounts everything)"),
            });
            output.WriteLine(Describe(await client.MountAsync(request, cancel)));
            return ExitCodes.Success;
        });
        return command;
    }

    /// <summary>
    /// <c>--foreground</c>: no service; this process serves the mount through this OS's adapter until it is
    /// unmounted or Ctrl+C. The settings are loaded (and validated) in full, as the service would.
    /// </summary>
    private static async Task MountInThisProcessAsync(MountImageOptions options, Action<MountInfo> mounted, CancellationToken cancellationToken)
    {
        byte[]? password = await ImagePasswords.ForImageAsync(options.Passwords, options.Image, null, cancellationToken);
        var request = new MountRequest
        {
            ImagePath = options.Image,
            MountPoint = options.MountPoint,
            Mode = options.Mode,
            Snapshot = options.Snapshot,
            OverlayPath = options.OverlayPath,
            KeepOverlay = options.KeepOverlay,
            ForceShare = options.ForceShare,
            Password = password,
        };
        var settings = Qcow2MountConfiguration.Load(Qcow2MountConfiguration.Build());
        await ForegroundMount.RunAsync(FileSystemHosts.ForThisSystem(settings), settings, request, mounted, cancellationToken: cancellationToken);
    }

    /// <summary>
    /// The optional PATH of <c>--overlay</c> must name a new file, but the parser takes any word after the flag: in
    /// <c>mount IMAGE --overlay DIR</c> that is the mount point. A flag followed by the name of an existing file or
    /// directory (the IMAGE or MOUNTPOINT) therefore moves to the end of a mount command line, where it has no PATH.
    /// </summary>
    internal static string[] NormalizeOverlayFlag(string[] args)
    {
        // The verb may follow global options (--verbose).
        int verb = Array.FindIndex(args, a => !a.StartsWith('-'));
        int at = Array.IndexOf(args, "--overlay");
        if (verb < 0 || args[verb] != "mount" || at < verb || at + 1 >= args.Length
            || !(File.Exists(args[at + 1]) || Directory.Exists(args[at + 1])))
        {
            return args;
        }

        return [.. args[..at], .. args[(at + 1)..], "--overlay"];
    }

    private static string Describe(MountInfo info)
    {
        // The modes as the options name them; "read-only" only once, and also for a writable mount the image forced to it.
        string mode = info.Mode switch
        {
            ControlMountModes.ReadOnly => "read-only",
            ControlMountModes.Snapshot => $"snapshot '{info.Snapshot}', read-only",
            _ => info.ReadOnly ? $"{info.Mode}, read-only" : info.Mode,
        };
        string text = $"mounted {info.Image} ({mode}{(info.ForceShare ? ", force-share" : "")}): {Path.Combine(info.MountPoint, "disk.raw")}";
        if (info.Overlay is not null)
        {
            text += $"; writes go to {info.Overlay}";
        }

        if (info.Repaired is not null)
        {
            text += $"; repaired: {info.Repaired}";
        }

        return text;
    }

    private static Command Unmount()
    {
        var target = new Argument<string>("MOUNTPOINT") { Description = "Mount point (or the mounted image)" };
        var force = new Option<bool>("--force") { Description = "Unmount even if files are open" };
        var command = new Command("unmount", "Unmount (flushes and closes the image cleanly)") { target, force };
        command.Aliases.Add("umount");
        command.SetAction(async (parse, cancel) =>
        {
            var info = await new MountClient().UnmountAsync(new UnmountOptions { Target = parse.GetValue(target)!, Force = parse.GetValue(force) }, cancel);
            parse.InvocationConfiguration.Output.WriteLine(info.StillOpen
                ? $"unmounted {info.MountPoint} (detached: files still open on it keep the image open until they are closed; what was written so far is flushed)"
                : $"unmounted {info.MountPoint}");
            return ExitCodes.Success;
        });
        return command;
    }

    private static Command List()
    {
        var json = CommonOptions.Json("Print the mounts as JSON");
        var command = new Command("list", "List the mounts of the running service") { json };
        command.SetAction(async (parse, cancel) =>
        {
            var output = parse.InvocationConfiguration.Output;
            var mounts = await new MountClient().ListAsync(cancel);
            if (parse.GetValue(json))
            {
                JsonOutput.Write(output, writer =>
                {
                    writer.WriteStartArray();
                    foreach (var m in mounts)
                    {
                        writer.WriteStartObject();
                        writer.WriteString("mount-point", m.MountPoint);
                        writer.WriteString("image", m.Image);
                        writer.WriteString("mode", m.Mode);
                        writer.WriteBoolean("read-only", m.ReadOnly);
                        writer.WriteBoolean("force-share", m.ForceShare);
                        writer.WriteNumber("size", m.Size);
                        if (m.Snapshot is not null)
                        {
                            writer.WriteString("snapshot", m.Snapshot);
                        }

                        if (m.Overlay is not null)
                        {
                            writer.WriteString("overlay", m.Overlay);
                        }

                        writer.WriteEndObject();
                    }

                    writer.WriteEndArray();
                });
            }
            else
            {
                foreach (var m in mounts)
                {
                    // Tab-separated for scripts; a fourth column names the snapshot or the overlay when there is one.
                    string extra = m.Snapshot ?? m.Overlay ?? "";
                    output.WriteLine(extra.Length > 0 ? $"{m.MountPoint}\t{m.Mode}\t{m.Image}\t{extra}" : $"{m.MountPoint}\t{m.Mode}\t{m.Image}");
                }
            }

            return ExitCodes.Success;
        });
        return command;
    }

    private static Command Status()
    {
        var json = CommonOptions.Json("Print the status as JSON");
        var command = new Command("status", "Show the running mount service (exit code 13 when none runs)") { json };
        command.SetAction(async (parse, cancel) =>
        {
            var output = parse.InvocationConfiguration.Output;
            var client = new MountClient();
            var endpoint = client.Endpoint;
            var status = await client.StatusAsync(cancel);
            // Names as in list --json; the same in the text, one "key: value" a line.
            (string Key, object Value)[] fields = status is null ? [] :
            [
                ("pid", status.ProcessId),
                ("version", status.Version),
                ("endpoint", status.Endpoint),
                ("file-system", status.FileSystem),
                ("drivers", FileSystemHosts.Describe(Qcow2MountConfiguration.Load(Qcow2MountConfiguration.Build()))),
                ("started-at", status.StartedAt.ToUniversalTime().ToString("yyyy-MM-dd'T'HH:mm:ss'Z'", CultureInfo.InvariantCulture)),
                ("mount-count", status.MountCount),
            ];
            if (parse.GetValue(json))
            {
                JsonOutput.Write(output, writer =>
                {
                    writer.WriteStartObject();
                    writer.WriteBoolean("running", status is not null);
                    if (status is null)
                    {
                        writer.WriteString("endpoint", endpoint.ToString());
                    }

                    foreach (var (key, value) in fields)
                    {
                        if (value is int number)
                        {
                            writer.WriteNumber(key, number);
                        }
                        else
                        {
                            writer.WriteString(key, (string)value);
                        }
                    }

                    writer.WriteEndObject();
                });
            }
            else if (status is null)
            {
                output.WriteLine($"no mount service is running at {endpoint}");
            }
            else
            {
                foreach (var (key, value) in fields)
                {
                    output.WriteLine(string.Create(CultureInfo.InvariantCulture, $"{key}: {value}"));
                }
            }

            // Scripts test "is it running" by the exit code.
            return status is null ? ExitCodes.Service : ExitCodes.Success;
        });
        return command;
    }

    private static Command Stop()
    {
        var command = new Command("stop", "Unmount everything and stop the mount service (nothing running is not an error)");
        command.SetAction(async (parse, cancel) =>
        {
            var client = new MountClient();
            var stopped = await client.StopAsync(cancel);
            parse.InvocationConfiguration.Output.WriteLine(stopped is null
                ? $"no mount service is running at {client.Endpoint}"
                : $"stopped the mount service (pid {stopped.ProcessId}; unmounted {stopped.MountCount})");
            return ExitCodes.Success;
        });
        return command;
    }

    private static Command Serve()
    {
        var command = new Command("serve", "Run the mount service in the foreground (mount starts it when needed)")
        {
            TreatUnmatchedTokensAsErrors = false,
        };
        command.SetAction(async (parse, cancel) =>
            await ServiceHost.RunAsync([.. parse.UnmatchedTokens], FileSystemHosts.ForThisSystem, cancel));
        return command;
    }

    private static Command Config()
    {
        var command = new Command("config", "Print the effective settings and where each came from")
        {
            TreatUnmatchedTokensAsErrors = false,
        };
        command.SetAction(parse =>
        {
            var root = Qcow2MountConfiguration.Build(parse.UnmatchedTokens);
            var output = parse.InvocationConfiguration.Output;
            foreach (var setting in Qcow2MountConfiguration.DescribeEffectiveSettings(root))
            {
                output.WriteLine($"{setting.Key} = {setting.Value}    ({setting.Source})");
            }

            output.WriteLine($"file system: {FileSystemHosts.Describe(Qcow2MountConfiguration.Load(root))}");
            return ExitCodes.Success;
        });
        return command;
    }
}
