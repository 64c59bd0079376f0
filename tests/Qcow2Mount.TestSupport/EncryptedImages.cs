namespace Qcow2Mount.TestSupport;

/// <summary>
/// Encrypted qcow2 images made and read by QEMU, for comparing ours against: each call passes the password as
/// QEMU secret "sec0".
/// </summary>
public static class EncryptedImages
{
    /// <summary>QEMU's default LUKS (aes-256-xts-plain64, sha256), with PBKDF2 kept short: it runs at every open.</summary>
    public const string Luks = "encrypt.format=luks,encrypt.iter-time=50";

    /// <summary>qemu-img create with <paramref name="encrypt"/> options (e.g. <see cref="Luks"/>, "encrypt.format=aes").</summary>
    public static void Create(string image, string password, string encrypt = Luks, string size = "8M", string? extraOptions = null)
    {
        string options = $"encrypt.key-secret=sec0,{encrypt}" + (extraOptions is null ? "" : "," + extraOptions);
        for (int attempt = 1; ; attempt++)
        {
            var result = ExternalTool.Run("qemu-img", ["create", "-q", "-f", "qcow2", "--object", Secret(password), "-o", options, image, size]);
            // A known QEMU bug (qemu-devel, January 2025): its PBKDF2 timing sometimes measures 0 ms and gives up.
            if (!result.Succeeded && result.StandardError.Contains("Unable to get accurate CPU usage") && attempt < 10)
            {
                continue;
            }

            result.EnsureSuccess();
            return;
        }
    }

    public static string Secret(string password) => $"secret,id=sec0,data={password}";

    /// <summary>QEMU's --image-opts for an encrypted image (and <paramref name="extra"/> options).</summary>
    public static string ImageOpts(string image, string extra = "") => $"driver=qcow2,file.filename={image},encrypt.key-secret=sec0{extra}";

    /// <summary>qemu-io commands on an image given by --image-opts (<see cref="ImageOpts"/>).</summary>
    public static void QemuIo(string imageOpts, string password, params string[] commands)
    {
        ArgumentNullException.ThrowIfNull(commands);
        var args = new List<string> { "--object", Secret(password), "--image-opts" };
        foreach (string c in commands)
        {
            args.Add("-c");
            args.Add(c);
        }

        args.Add(imageOpts);
        var result = ExternalTool.Run("qemu-io", args).EnsureSuccess();
        if (result.StandardOutput.Contains("failed", StringComparison.OrdinalIgnoreCase))
        {
            throw new InvalidOperationException($"qemu-io: {result.StandardOutput}");
        }
    }

    /// <summary>qemu-img check of an encrypted image (it wants the secret even for metadata): exit 0 is clean, 3 leaks, 2 corrupt.</summary>
    public static ToolResult Check(string image, string password) =>
        ExternalTool.Run("qemu-img", ["check", "--object", Secret(password), "--image-opts", ImageOpts(image)]);

    /// <summary>What qemu-img decrypts the guest (or one of its snapshots) to, written as a raw file.</summary>
    public static void ConvertToRaw(string image, string password, string raw, string? snapshot = null)
    {
        var args = new List<string> { "convert", "--object", Secret(password) };
        if (snapshot is not null)
        {
            args.AddRange(["-l", $"snapshot.name={snapshot}"]);
        }

        args.AddRange(["--image-opts", ImageOpts(image), "-O", "raw", raw]);
        ExternalTool.Run("qemu-img", args).EnsureSuccess();
    }
}
