using Qcow2Mount.Qcow2.Format;

namespace Qcow2Mount.Qcow2.Mapping;

/// <summary>
/// What a run of guest bytes reads as: the result of a lookup, which the caller turns into I/O outside any lock.
/// <see cref="HostOffset"/> is the byte in the image or data file for <see cref="ClusterKind.Normal"/>; for
/// <see cref="ClusterKind.Compressed"/> the run lies in one cluster and <see cref="Compressed"/> describes it.
/// </summary>
internal readonly record struct Extent(ClusterKind Kind, int Length, long HostOffset, CompressedDescriptor Compressed);
