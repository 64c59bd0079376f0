namespace Qcow2Mount.Service.Hosting;

/// <summary>Accepts control connections on the service's endpoint; disposing stops listening and removes the endpoint.</summary>
internal interface IControlListener : IDisposable
{
    /// <summary>Waits for the next client; each connection is a duplex byte stream.</summary>
    Task<Stream> AcceptAsync(CancellationToken cancellationToken);
}

/// <summary>The service could not take its endpoint (another service answers there, or the folder is not private).</summary>
public sealed class ServiceStartException : Exception
{
    public ServiceStartException()
    {
    }

    public ServiceStartException(string message)
        : base(message)
    {
    }

    public ServiceStartException(string message, Exception? innerException)
        : base(message, innerException)
    {
    }
}
