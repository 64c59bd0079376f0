namespace Qcow2Mount.Operations;

/// <summary>
/// How far a long operation is: <see cref="Done"/> of <see cref="Total"/> units (guest bytes for convert and hash,
/// thousandths for check). The last report of an operation that succeeds has <c>Done == Total</c>.
/// </summary>
public readonly record struct OperationProgress(long Done, long Total)
{
    /// <summary>From 0 to 1; an empty operation is complete.</summary>
    public double Fraction => Total <= 0 ? 1 : Math.Clamp((double)Done / Total, 0, 1);
}
