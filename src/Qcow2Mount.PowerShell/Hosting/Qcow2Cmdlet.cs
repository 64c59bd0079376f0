using System.Management.Automation;
using Qcow2Mount.Operations;

namespace Qcow2Mount.PowerShell.Hosting;

/// <summary>
/// What every cmdlet of the module shares: a cancellation token that StopProcessing (Ctrl+C, a downstream
/// Select-Object -First) cancels; one core call run while this thread writes its progress (PowerShell takes
/// Write-Progress only from the pipeline thread); and the translation of the core's errors into non-terminating
/// errors of the pipeline item, so the next items still run.
/// </summary>
public abstract class Qcow2Cmdlet : PSCmdlet, IDisposable
{
    private static readonly TimeSpan ProgressInterval = TimeSpan.FromMilliseconds(200);
    private readonly CancellationTokenSource _stopping = new();
    private int _nextActivityId = 1;

    /// <summary>Cancelled when PowerShell stops the pipeline.</summary>
    protected CancellationToken Cancellation => _stopping.Token;

    protected override void StopProcessing() => _stopping.Cancel();

    public void Dispose()
    {
        _stopping.Dispose();
        GC.SuppressFinalize(this);
    }

    /// <summary>A path as the user typed it, made absolute against the current PowerShell location (not the process's).</summary>
    protected string ResolvePath(string path) => SessionState.Path.GetUnresolvedProviderPathFromPSPath(path);

    /// <summary>
    /// Runs <paramref name="body"/> for one pipeline item: an <see cref="OperationException"/> becomes a
    /// non-terminating error with <paramref name="target"/> as its target object; a stop ends the pipeline.
    /// </summary>
    protected void ForItem(object? target, Action body)
    {
        ArgumentNullException.ThrowIfNull(body);
        try
        {
            body();
        }
        catch (OperationCanceledException) when (Cancellation.IsCancellationRequested)
        {
            throw new PipelineStoppedException();
        }
        catch (Exception e) when (OperationException.Translate(e) is OperationException error)
        {
            WriteError(ErrorRecords.For(error, target));
        }
    }

    /// <summary>
    /// Runs <paramref name="body"/> for each image path, resolved (<see cref="ResolvePath"/>), as its own pipeline item
    /// (<see cref="ForItem"/>): a failing image writes its error and the next one still runs.
    /// </summary>
    protected void ForEachImage(IEnumerable<string> paths, Action<string> body)
    {
        ArgumentNullException.ThrowIfNull(paths);
        ArgumentNullException.ThrowIfNull(body);
        foreach (string path in paths)
        {
            string image = ResolvePath(path);
            ForItem(image, () => body(image));
        }
    }

    /// <summary>Runs a core call without progress, on this thread's behalf.</summary>
    protected T Run<T>(Func<CancellationToken, Task<T>> operation)
    {
        ArgumentNullException.ThrowIfNull(operation);
        return Task.Run(() => operation(Cancellation), Cancellation).GetAwaiter().GetResult();
    }

    /// <inheritdoc cref="Run{T}(Func{CancellationToken, Task{T}})"/>
    protected void Run(Func<CancellationToken, Task> operation)
    {
        ArgumentNullException.ThrowIfNull(operation);
        Task.Run(() => operation(Cancellation), Cancellation).GetAwaiter().GetResult();
    }

    /// <summary>
    /// Runs a core call on a worker thread and, while it runs, writes its progress as a Write-Progress bar
    /// <paramref name="activity"/>: <paramref name="status"/> (the image) at most every 200 ms; completes the bar at the end.
    /// </summary>
    protected T RunWithProgress<T>(string activity, string status, Func<IProgress<OperationProgress>, CancellationToken, Task<T>> operation)
    {
        ArgumentNullException.ThrowIfNull(operation);
        using var progress = new LatestProgress();
        var task = Task.Run(() => operation(progress, Cancellation), Cancellation);
        int activityId = _nextActivityId++;
        OperationProgress? written = null;
        WaitHandle[] handles = [((IAsyncResult)task).AsyncWaitHandle, progress.Changed];
        try
        {
            while (!task.IsCompleted)
            {
                WaitHandle.WaitAny(handles, ProgressInterval);
                if (progress.Latest is { } now && now != written)
                {
                    written = now;
                    // A new record each time: hosts may keep the ones they were given (a PowerShell object's Streams.Progress does).
                    WriteProgress(new ProgressRecord(activityId, activity, status) { PercentComplete = (int)(now.Fraction * 100) });
                }
            }
        }
        finally
        {
            // A stop makes WriteProgress throw while the worker still runs its cleanup (a cancelled convert deletes its
            // destination): the pipeline must not report itself stopped before that cleanup is done.
            ((IAsyncResult)task).AsyncWaitHandle.WaitOne();
            if (!Cancellation.IsCancellationRequested)
            {
                WriteProgress(new ProgressRecord(activityId, activity, status) { RecordType = ProgressRecordType.Completed });
            }
        }

        return task.GetAwaiter().GetResult();
    }

    /// <summary>The last progress a worker reported, and a signal that it changed.</summary>
    private sealed class LatestProgress : IProgress<OperationProgress>, IDisposable
    {
        private readonly Lock _lock = new();
        private OperationProgress? _latest;

        public AutoResetEvent Changed { get; } = new(false);

        public OperationProgress? Latest
        {
            get
            {
                lock (_lock)
                {
                    return _latest;
                }
            }
        }

        public void Report(OperationProgress value)
        {
            lock (_lock)
            {
                _latest = value;
            }

            // Never after Dispose: RunWithProgress waits for the operation before it disposes this.
            Changed.Set();
        }

        public void Dispose() => Changed.Dispose();
    }
}
