using System.Diagnostics.CodeAnalysis;

namespace Qcow2Mount.Control;

/// <summary>
/// A request the service refused or could not carry out, or a service that could not be reached.
/// <see cref="Code"/> is one of <see cref="Protocol.ErrorCodes"/>; the message is one line for people.
/// </summary>
[SuppressMessage("Design", "CA1032:Implement standard exception constructors", Justification = "Every instance carries its error code, which callers branch on; a constructor without one would make an error nobody can classify.")]
public sealed class ControlException : Exception
{
    public ControlException(string code, string message, Exception? inner = null)
        : base(message, inner)
    {
        Code = code;
    }

    public string Code { get; }
}
