using Qcow2Mount.Qcow2;
using Qcow2Mount.Qcow2.Create;

namespace Qcow2Mount.Operations.Tests;

/// <summary>Source images made with the engine itself, so these tests need no external tool.</summary>
internal static class SourceImages
{
    /// <summary>
    /// A qcow2 image of <paramref name="size"/> bytes whose every byte is data from a fixed seed (nothing zero to
    /// skip), so a convert or hash of it really reads <paramref name="size"/> bytes; returns the guest bytes.
    /// </summary>
    public static byte[] Filled(string path, int size, int seed = 1)
    {
        ImageCreator.Create(path, new CreateOptions { Size = size });
        var bytes = new byte[size];
        new Random(seed).NextBytes(bytes);
        using var image = Qcow2Image.Open(path, new Qcow2OpenOptions { Writable = true });
        image.WriteAt(0, bytes);
        image.Flush();
        return bytes;
    }
}

/// <summary>Records every report as it is made, on the reporting thread (not posted like <see cref="Progress{T}"/>).</summary>
internal sealed class RecordingProgress(Action<OperationProgress>? onReport = null) : IProgress<OperationProgress>
{
    private readonly List<OperationProgress> _reports = [];

    public IReadOnlyList<OperationProgress> Reports
    {
        get
        {
            lock (_reports)
            {
                return [.. _reports];
            }
        }
    }

    public void Report(OperationProgress value)
    {
        lock (_reports)
        {
            _reports.Add(value);
        }

        onReport?.Invoke(value);
    }
}

/// <summary>A password provider that counts how often it is asked and answers what it was given.</summary>
internal sealed class CountingPasswords(string? password) : IPasswordProvider
{
    public int Asked { get; private set; }

    public ValueTask<byte[]?> GetPasswordAsync(PasswordRequest request, CancellationToken cancellationToken)
    {
        Asked++;
        return ValueTask.FromResult(password is null ? null : (byte[]?)System.Text.Encoding.UTF8.GetBytes(password));
    }
}
