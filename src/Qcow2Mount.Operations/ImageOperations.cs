namespace Qcow2Mount.Operations;

/// <summary>
/// The operations on image files, one public async method each (in the files beside this one): options in, a
/// result out; progress through <see cref="IProgress{T}"/>, cancellation through a <see cref="CancellationToken"/>,
/// every failure an <see cref="OperationException"/>. The work runs on the thread pool, so a caller's thread
/// (a cmdlet's, a dialog's) stays free.
/// </summary>
public static partial class ImageOperations
{
    /// <summary>Runs <paramref name="work"/> on the thread pool, with failures translated to <see cref="OperationException"/>.</summary>
    private static async Task<T> RunAsync<T>(Func<T> work, CancellationToken cancellationToken)
    {
        cancellationToken.ThrowIfCancellationRequested();
        try
        {
            return await Task.Run(work, cancellationToken).ConfigureAwait(false);
        }
        catch (Exception e) when (OperationException.Translate(e) is var translated && !ReferenceEquals(translated, e))
        {
            throw translated;
        }
    }

    /// <summary>Translates a failure of the code before <see cref="RunAsync{T}"/> (opening, asking for a password).</summary>
    private static async Task<T> GuardAsync<T>(Func<Task<T>> body)
    {
        try
        {
            return await body().ConfigureAwait(false);
        }
        catch (Exception e) when (OperationException.Translate(e) is var translated && !ReferenceEquals(translated, e))
        {
            throw translated;
        }
    }

    private static void Report(IProgress<OperationProgress>? progress, long done, long total) =>
        progress?.Report(new OperationProgress(done, total));
}
